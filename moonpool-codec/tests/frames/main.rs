//! The frame codec, specified by its observable behaviour on byte buffers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corruption;
mod limits;
mod properties;
mod splitting;
mod vectors;
mod zero_copy;

use bytes::BytesMut;
use moonpool_codec::{Packet, PacketCodec, Uid, WireError};
use tokio_util::codec::Decoder;

/// The frame of `packet` under the default codec.
pub(crate) fn frame_of(packet: &Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    PacketCodec::new().encode_packet(packet, &mut buf).unwrap();
    buf
}

/// A packet with `len` payload bytes that differ from one another.
pub(crate) fn sample_packet(token: Uid, len: usize) -> Packet {
    let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
    Packet::new(token, payload)
}

/// Decodes every whole frame in `buf`, stopping at the first error.
pub(crate) fn decode_all(
    codec: &mut PacketCodec,
    buf: &mut BytesMut,
) -> Result<Vec<Packet>, WireError> {
    let mut packets = Vec::new();
    while let Some(packet) = codec.decode(buf)? {
        packets.push(packet);
    }
    Ok(packets)
}
