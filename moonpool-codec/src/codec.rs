//! [`PacketCodec`]: the frame as a `tokio-util` codec.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::{Packet, Uid, WireError};

/// Bytes in a frame header: length, checksum, token.
pub const HEADER_LEN: usize = 24;

/// The maximum frame length of [`PacketCodec::new`]: 8 MiB.
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 8 * 1024 * 1024;

/// Encodes and decodes [`Packet`]s as moonpool frames.
///
/// A frame is, all integers little-endian:
///
/// ```text
/// offset  size  field
/// 0       4     len       total frame length, header included (24 + payload)
/// 4       4     checksum  CRC-32C (Castagnoli) of bytes 8..len
/// 8       8     token.first
/// 16      8     token.second
/// 24      len-24 payload
/// ```
///
/// Guarantees:
/// - the decoder never grows its buffer on the length field's say-so beyond
///   the maximum frame length: a length under 24 or over the maximum is an
///   error before any reservation;
/// - a decoded payload shares the read buffer's memory (no copy);
/// - a frame whose checksum does not match is an error, never a packet;
/// - encoding a packet whose frame would exceed the maximum is an error,
///   never a truncation.
///
/// After an error the stream is no longer in sync: close the connection.
///
/// ```
/// use bytes::BytesMut;
/// use moonpool_codec::{Packet, PacketCodec, Uid};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = PacketCodec::new();
/// let mut buf = BytesMut::new();
/// codec.encode(Packet::new(Uid::new(1, 2), &b"hello"[..]), &mut buf)?;
/// assert_eq!(buf.len(), 24 + 5);
///
/// let packet = codec.decode(&mut buf)?.expect("a whole frame is buffered");
/// assert_eq!(packet.token, Uid::new(1, 2));
/// assert_eq!(&packet.payload[..], b"hello");
/// # Ok::<(), moonpool_codec::WireError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketCodec {
    max_frame_length: usize,
}

impl PacketCodec {
    /// A codec with the default maximum frame length
    /// ([`DEFAULT_MAX_FRAME_LENGTH`], 8 MiB).
    pub const fn new() -> Self {
        Self {
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
        }
    }

    /// A codec that accepts frames of at most `max` bytes, header included.
    ///
    /// The maximum is clamped to what the 32-bit length field can express,
    /// and to at least one header.
    pub const fn with_max_frame_length(max: usize) -> Self {
        let max = if max > u32::MAX as usize {
            u32::MAX as usize
        } else if max < HEADER_LEN {
            HEADER_LEN
        } else {
            max
        };
        Self {
            max_frame_length: max,
        }
    }

    /// The largest frame, header included, this codec encodes or decodes.
    pub const fn max_frame_length(&self) -> usize {
        self.max_frame_length
    }

    /// The largest payload this codec encodes or decodes.
    pub const fn max_payload_length(&self) -> usize {
        self.max_frame_length - HEADER_LEN
    }

    /// Reads and checks the length field of the frame at the start of `src`,
    /// if it has arrived.
    fn frame_len(&self, src: &[u8]) -> Result<Option<usize>, WireError> {
        let Some(field) = src.get(..4) else {
            return Ok(None);
        };
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(field);
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len < HEADER_LEN {
            return Err(WireError::FrameTooShort { len });
        }
        if len > self.max_frame_length {
            return Err(WireError::FrameTooLarge {
                len,
                max: self.max_frame_length,
            });
        }
        Ok(Some(len))
    }
}

impl Default for PacketCodec {
    fn default() -> Self {
        Self::new()
    }
}

/// The checksum of a frame's token and payload, as it goes in bytes 4..8.
pub fn frame_checksum(token: Uid, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&token.to_le_bytes()), payload)
}

impl Decoder for PacketCodec {
    type Item = Packet;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, WireError> {
        let Some(len) = self.frame_len(src)? else {
            return Ok(None);
        };
        if src.len() < len {
            // The length is checked against the maximum above, so this
            // reservation is bounded by configuration, not by the peer.
            src.reserve(len - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(len);
        let actual = crc32c::crc32c(&frame[8..]);
        frame.advance(4);
        let expected = frame.get_u32_le();
        if expected != actual {
            return Err(WireError::ChecksumMismatch { expected, actual });
        }
        let token = Uid::new(frame.get_u64_le(), frame.get_u64_le());
        Ok(Some(Packet {
            token,
            payload: frame.freeze(),
        }))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, WireError> {
        match self.decode(src)? {
            Some(packet) => Ok(Some(packet)),
            None if src.is_empty() => Ok(None),
            None => Err(WireError::Truncated {
                buffered: src.len(),
                expected: self.frame_len(src)?,
            }),
        }
    }
}

impl Encoder<Packet> for PacketCodec {
    type Error = WireError;

    fn encode(&mut self, packet: Packet, dst: &mut BytesMut) -> Result<(), WireError> {
        self.encode(&packet, dst)
    }
}

impl Encoder<&Packet> for PacketCodec {
    type Error = WireError;

    fn encode(&mut self, packet: &Packet, dst: &mut BytesMut) -> Result<(), WireError> {
        let len = packet.frame_len();
        if len > self.max_frame_length {
            return Err(WireError::FrameTooLarge {
                len,
                max: self.max_frame_length,
            });
        }
        dst.reserve(len);
        // `len` fits: the maximum is clamped to u32::MAX.
        dst.put_u32_le(len as u32);
        dst.put_u32_le(frame_checksum(packet.token, &packet.payload));
        dst.put_u64_le(packet.token.first);
        dst.put_u64_le(packet.token.second);
        dst.extend_from_slice(&packet.payload);
        Ok(())
    }
}
