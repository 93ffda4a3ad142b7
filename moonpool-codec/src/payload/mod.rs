//! Payload codecs: how a typed value becomes the bytes of a [`Packet`]
//! payload and back.
//!
//! [`Packet`]: crate::Packet

use bytes::{Bytes, BytesMut};

mod prost;
#[cfg(feature = "serde")]
mod serde;

pub use self::prost::ProstCodec;
#[cfg(feature = "serde")]
pub use self::serde::PostcardCodec;

/// A value that is not a valid payload, or could not be made into one.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The payload's bytes do not decode as the expected type.
    #[error("payload does not decode as {type_name}: {source}")]
    Decode {
        /// The type that was expected.
        type_name: &'static str,
        /// The format's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The value could not be encoded.
    #[error("value of type {type_name} does not encode: {source}")]
    Encode {
        /// The type being encoded.
        type_name: &'static str,
        /// The format's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Encodes values of `T` into payload bytes and decodes them back.
///
/// Implementations are cheap to clone and hold no per-value state, so one
/// codec value serves every message of an endpoint.
pub trait PayloadCodec<T>: Clone + Send + Sync + 'static {
    /// Appends the encoding of `value` to `dst`.
    fn encode(&self, value: &T, dst: &mut BytesMut) -> Result<(), PayloadError>;

    /// Decodes a value from a whole payload. The payload may be retained
    /// (zero-copy formats keep slices of it).
    fn decode(&self, payload: Bytes) -> Result<T, PayloadError>;

    /// Encodes `value` into a fresh payload.
    fn encode_to_bytes(&self, value: &T) -> Result<Bytes, PayloadError> {
        let mut dst = BytesMut::new();
        self.encode(value, &mut dst)?;
        Ok(dst.freeze())
    }
}
