//! A stream may cut frames anywhere; decoding must not care.

use bytes::BytesMut;
use moonpool_codec::{Packet, PacketCodec, Uid};
use tokio_util::codec::Decoder;

use crate::{decode_all, frame_of, sample_packet};

fn sample_packets() -> Vec<Packet> {
    vec![
        sample_packet(Uid::new(1, 2), 0),
        sample_packet(Uid::well_known(1), 3),
        sample_packet(Uid::new(u64::MAX - 5, 77), 100),
        sample_packet(Uid::new(42, 42), 24),
        sample_packet(Uid::new(0, 0), 1),
    ]
}

fn stream_of(packets: &[Packet]) -> Vec<u8> {
    packets.iter().flat_map(|p| frame_of(p).to_vec()).collect()
}

#[test]
fn many_frames_in_one_buffer_decode_in_order() {
    let packets = sample_packets();
    let mut buf = BytesMut::from(&stream_of(&packets)[..]);

    let decoded = decode_all(&mut PacketCodec::new(), &mut buf).unwrap();

    assert_eq!(decoded, packets);
    assert!(buf.is_empty());
}

#[test]
fn a_stream_split_at_any_byte_decodes_identically() {
    let packets = sample_packets();
    let stream = stream_of(&packets);

    for cut in 0..=stream.len() {
        let mut codec = PacketCodec::new();
        let mut buf = BytesMut::from(&stream[..cut]);
        let mut decoded = decode_all(&mut codec, &mut buf).unwrap();
        buf.extend_from_slice(&stream[cut..]);
        decoded.extend(decode_all(&mut codec, &mut buf).unwrap());
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());

        assert_eq!(decoded, packets, "cut at byte {cut}");
    }
}

#[test]
fn a_stream_fed_one_byte_at_a_time_decodes_identically() {
    let packets = sample_packets();
    let mut codec = PacketCodec::new();
    let mut buf = BytesMut::new();
    let mut decoded = Vec::new();

    for byte in stream_of(&packets) {
        buf.extend_from_slice(&[byte]);
        decoded.extend(decode_all(&mut codec, &mut buf).unwrap());
    }

    assert_eq!(decoded, packets);
    assert!(buf.is_empty());
}

#[test]
fn an_incomplete_frame_waits_and_consumes_nothing() {
    let frame = frame_of(&sample_packet(Uid::new(5, 6), 50));

    for cut in 0..frame.len() {
        let mut buf = BytesMut::from(&frame[..cut]);
        assert!(PacketCodec::new().decode(&mut buf).unwrap().is_none());
        assert_eq!(&buf[..], &frame[..cut], "cut at byte {cut}");
    }
}
