//! Protocol Buffers payloads through `prost`.

use std::fmt;
use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};

use super::{PayloadCodec, PayloadError};

/// Encodes any [`prost::Message`] as its protobuf bytes.
///
/// ```
/// use moonpool_codec::{PayloadCodec, ProstCodec};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Ping {
///     #[prost(uint64, tag = "1")]
///     seq: u64,
/// }
///
/// let codec = ProstCodec::<Ping>::new();
/// let bytes = codec.encode_to_bytes(&Ping { seq: 7 })?;
/// assert_eq!(codec.decode(bytes)?, Ping { seq: 7 });
/// # Ok::<(), moonpool_codec::PayloadError>(())
/// ```
pub struct ProstCodec<T> {
    _type: PhantomData<fn() -> T>,
}

impl<T> ProstCodec<T> {
    /// The codec for `T`.
    pub const fn new() -> Self {
        Self { _type: PhantomData }
    }
}

impl<T> Default for ProstCodec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for ProstCodec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ProstCodec<T> {}

impl<T> fmt::Debug for ProstCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProstCodec<{}>", std::any::type_name::<T>())
    }
}

impl<T> PayloadCodec<T> for ProstCodec<T>
where
    T: prost::Message + Default + 'static,
{
    fn encode(&self, value: &T, dst: &mut BytesMut) -> Result<(), PayloadError> {
        dst.reserve(value.encoded_len());
        // `encode` fails only when `dst` cannot grow; BytesMut always can.
        value.encode(dst).map_err(|e| PayloadError::Encode {
            type_name: std::any::type_name::<T>(),
            source: Box::new(e),
        })
    }

    fn encode_to_bytes(&self, value: &T) -> Result<Bytes, PayloadError> {
        // One allocation of exactly the encoded length.
        Ok(value.encode_to_vec().into())
    }

    fn decode(&self, payload: Bytes) -> Result<T, PayloadError> {
        T::decode(payload).map_err(|e| PayloadError::Decode {
            type_name: std::any::type_name::<T>(),
            source: Box::new(e),
        })
    }
}
