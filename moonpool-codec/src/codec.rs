//! [`PacketCodec`]: the frame as a `tokio-util` codec.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::checksum::checksum_of_summed_bytes;
use crate::{Packet, Uid, WireError};

/// Bytes in a frame header: length, checksum, token.
pub const HEADER_LEN: usize = 24;

/// The maximum frame length of [`PacketCodec::new`]: 8 MiB.
///
/// Large enough for any RPC payload moonpool carries, small enough that a
/// peer cannot make a receiver buffer more than this for one frame.
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 8 * 1024 * 1024;

/// Bytes of the length field, the first field of the header.
const LEN_FIELD: usize = 4;
/// Where the checksummed bytes (token, then payload) start.
const SUMMED_FROM: usize = 8;

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
/// - the decoder never grows its buffer on the length field's say-so: a
///   length under 24 or over the maximum is an error before any reservation,
///   and while a valid frame is incomplete it reserves at most as many bytes
///   again as have already arrived. With `BytesMut`'s own doubling, the
///   buffer's capacity stays under four times the bytes received (plus its
///   initial capacity): memory follows what a peer actually sent, not what
///   it claims it will send;
/// - a decoded payload shares the read buffer's memory (no copy);
/// - a frame whose checksum does not match is an error, never a packet;
/// - encoding a packet whose frame would exceed the maximum is an error,
///   never a truncation, and leaves the destination buffer untouched;
/// - a decode error leaves the offending bytes in the buffer, so decoding
///   again reports the same error: a stream that went wrong stays wrong.
///
/// After an error the stream is no longer in sync: close the connection.
///
/// `PacketCodec` is an `Encoder` of one item type, [`Packet`], so a `Framed`
/// sink's `send`, `feed`, `flush` and `close` need no annotations. To frame a
/// packet that is kept elsewhere (a reliable packet being resent) without
/// cloning it, call [`PacketCodec::encode_packet`].
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
    /// and to at least one header (a frame with an empty payload).
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
        let Some(&[b0, b1, b2, b3]) = src.get(..LEN_FIELD) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([b0, b1, b2, b3]) as usize;
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

/// Reads the little-endian `u32` at `at` of a slice known to be long enough.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(field)
}

impl Decoder for PacketCodec {
    type Item = Packet;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, WireError> {
        let Some(len) = self.frame_len(src)? else {
            return Ok(None);
        };
        let Some(frame) = src.get(..len) else {
            // Reserve at most what has arrived: geometric growth for a
            // large frame that is really coming, and room for no more than
            // twice the received bytes for a length that is only a claim
            // (`BytesMut` may double that allocation: four times at most).
            let missing = len - src.len();
            src.reserve(missing.min(src.len()));
            return Ok(None);
        };
        // Check before consuming, so a bad frame stays in the buffer and
        // every later call reports it again.
        let expected = u32_at(frame, LEN_FIELD);
        let actual = checksum_of_summed_bytes(&frame[SUMMED_FROM..]);
        if expected != actual {
            return Err(WireError::ChecksumMismatch { expected, actual });
        }
        let mut token = [0u8; 16];
        token.copy_from_slice(&frame[SUMMED_FROM..HEADER_LEN]);
        let token = Uid::from_le_bytes(token);
        let mut frame = src.split_to(len);
        frame.advance(HEADER_LEN);
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
        self.encode_packet(&packet, dst)
    }
}

impl PacketCodec {
    /// Appends `packet`'s frame to `dst` with one reservation and one copy
    /// of the payload; refuses, leaving `dst` untouched, a packet whose
    /// frame would exceed the maximum.
    ///
    /// This is [`Encoder::encode`] for a borrowed packet.
    pub fn encode_packet(&self, packet: &Packet, dst: &mut BytesMut) -> Result<(), WireError> {
        let len = packet.frame_len();
        if len > self.max_frame_length {
            return Err(WireError::FrameTooLarge {
                len,
                max: self.max_frame_length,
            });
        }
        let mut header = [0u8; HEADER_LEN];
        // The cast is lossless: `len` is at most the maximum, which is
        // clamped to u32::MAX.
        header[..LEN_FIELD].copy_from_slice(&(len as u32).to_le_bytes());
        header[SUMMED_FROM..].copy_from_slice(&packet.token.to_le_bytes());
        let start = dst.len();
        dst.reserve(len);
        dst.extend_from_slice(&header);
        dst.extend_from_slice(&packet.payload);
        // One pass over the bytes just written, still in cache; summing the
        // buffer rather than the packet also means the checksum covers
        // exactly what goes on the wire.
        let checksum = checksum_of_summed_bytes(&dst[start + SUMMED_FROM..]);
        dst[start + LEN_FIELD..start + SUMMED_FROM].copy_from_slice(&checksum.to_le_bytes());
        Ok(())
    }
}
