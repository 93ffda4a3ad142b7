//! The unit the codec frames: a token and its payload.

use bytes::Bytes;

use crate::Uid;

/// One framed message: the token of the endpoint it is for, and its payload.
///
/// The payload is a [`Bytes`]: decoding splits it off the read buffer without
/// copying, and cloning a packet is cheap.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The endpoint the packet is addressed to.
    pub token: Uid,
    /// The application bytes.
    pub payload: Bytes,
}

impl Packet {
    /// A packet for `token` carrying `payload`.
    pub fn new(token: Uid, payload: impl Into<Bytes>) -> Self {
        Self {
            token,
            payload: payload.into(),
        }
    }

    /// The length of this packet's frame on the wire: header plus payload.
    pub fn frame_len(&self) -> usize {
        crate::HEADER_LEN + self.payload.len()
    }
}
