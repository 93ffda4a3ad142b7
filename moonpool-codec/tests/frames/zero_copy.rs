//! Decoded payloads share the read buffer's memory.

use bytes::BytesMut;
use moonpool_codec::{HEADER_LEN, PacketCodec, Uid};
use tokio_util::codec::Decoder;

use crate::{frame_of, sample_packet};

#[test]
fn a_decoded_payload_points_into_the_read_buffer() {
    let mut buf = frame_of(&sample_packet(Uid::new(1, 1), 1000));
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();

    let packet = PacketCodec::new().decode(&mut buf).unwrap().unwrap();

    let payload_start = packet.payload.as_ptr() as usize;
    assert_eq!(payload_start, start + HEADER_LEN);
    assert_eq!(payload_start + packet.payload.len(), end);
}

#[test]
fn every_payload_of_a_multi_frame_buffer_points_into_it() {
    let sizes = [0, 1, 64, 1000, 5];
    let mut buf = BytesMut::new();
    for (i, len) in sizes.into_iter().enumerate() {
        buf.extend_from_slice(&frame_of(&sample_packet(Uid::new(i as u64, 0), len)));
    }
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let mut codec = PacketCodec::new();

    let mut offset = 0;
    for len in sizes {
        let packet = codec.decode(&mut buf).unwrap().unwrap();
        let payload = packet.payload.as_ptr() as usize;
        assert_eq!(payload, start + offset + HEADER_LEN);
        assert!(payload + packet.payload.len() <= end);
        offset += HEADER_LEN + len;
    }
}
