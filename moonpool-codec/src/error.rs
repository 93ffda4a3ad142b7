//! What can be wrong with bytes on the wire.

use std::io;

/// An error decoding or encoding a frame.
///
/// Every variant but [`WireError::Io`] is caused by the bytes themselves: a
/// connection that yields one is no longer trustworthy and is closed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The length field claims fewer bytes than a header has.
    #[error("frame length {len} is shorter than the 24-byte header")]
    FrameTooShort {
        /// The claimed frame length.
        len: usize,
    },
    /// The frame is longer than the codec's maximum. On decode this is found
    /// from the length field alone, before any buffer grows; on encode the
    /// packet is refused, never truncated.
    #[error("frame length {len} exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The claimed (decode) or required (encode) frame length.
        len: usize,
        /// The codec's maximum frame length.
        max: usize,
    },
    /// The CRC-32C of the token and payload does not match the frame's
    /// checksum field.
    #[error("checksum mismatch: frame says {expected:#010x}, bytes give {actual:#010x}")]
    ChecksumMismatch {
        /// The checksum the frame carries.
        expected: u32,
        /// The checksum of the bytes received.
        actual: u32,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame: {buffered} bytes buffered{}", match .expected {
        Some(len) => format!(" of a {len}-byte frame"),
        None => String::new(),
    })]
    Truncated {
        /// Bytes of the incomplete frame received before the end.
        buffered: usize,
        /// The frame's length, if its length field had arrived.
        expected: Option<usize>,
    },
    /// The underlying I/O failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl From<WireError> for io::Error {
    /// For code that speaks `io::Error` (an `AsyncRead` adapter, say): an
    /// I/O failure is unwrapped, anything wrong with the bytes becomes
    /// [`io::ErrorKind::InvalidData`] with the [`WireError`] as its source.
    fn from(error: WireError) -> Self {
        match error {
            WireError::Io(error) => error,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
