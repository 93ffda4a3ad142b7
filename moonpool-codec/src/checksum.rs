//! The frame checksum: CRC-32C (Castagnoli) of the token and payload.
//!
//! Kept in one place so the encoder, the decoder and [`frame_checksum`] can
//! never disagree on what is summed.

use crate::Uid;

/// The checksum of a frame's token and payload, as it goes in bytes 4..8.
///
/// This is CRC-32C (Castagnoli; reflected polynomial `0x82F63B78`, initial
/// value and final XOR `0xFFFFFFFF`) of the 16 token bytes followed by the
/// payload, i.e. of bytes `8..len` of the frame.
///
/// ```
/// use moonpool_codec::{Uid, frame_checksum};
///
/// // The first test vector of docs/wire-format.md.
/// assert_eq!(frame_checksum(Uid::well_known(1), b""), 0x625c_c87a);
/// ```
pub fn frame_checksum(token: Uid, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&token.to_le_bytes()), payload)
}

/// The checksum of the bytes `8..len` of a buffered frame.
pub(crate) fn checksum_of_summed_bytes(summed: &[u8]) -> u32 {
    crc32c::crc32c(summed)
}
