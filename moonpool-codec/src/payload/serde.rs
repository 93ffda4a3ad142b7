//! serde payloads in the postcard format.
//!
//! Why postcard: both ends of a moonpool connection share the message types,
//! so a payload needs no field names or type tags. postcard writes none (a
//! struct is its fields in order, integers are varints), its wire format is
//! documented and frozen since 1.0, so two builds of a program years apart
//! still agree, and it is fast and maintained. Self-describing formats
//! (JSON, CBOR, MessagePack) would spend bytes on every message on
//! information the receiver already has.

use std::fmt;
use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{PayloadCodec, PayloadError};

/// Encodes any serde type with [postcard](https://docs.rs/postcard).
///
/// Requires the `serde` feature.
pub struct PostcardCodec<T> {
    _type: PhantomData<fn() -> T>,
}

impl<T> PostcardCodec<T> {
    /// The codec for `T`.
    pub const fn new() -> Self {
        Self { _type: PhantomData }
    }
}

impl<T> Default for PostcardCodec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for PostcardCodec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for PostcardCodec<T> {}

impl<T> fmt::Debug for PostcardCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostcardCodec<{}>", std::any::type_name::<T>())
    }
}

impl<T> PayloadCodec<T> for PostcardCodec<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn encode(&self, value: &T, dst: &mut BytesMut) -> Result<(), PayloadError> {
        postcard::to_io(value, dst.writer())
            .map(|_writer| ())
            .map_err(|e| PayloadError::Encode {
                type_name: std::any::type_name::<T>(),
                source: Box::new(e),
            })
    }

    fn decode(&self, payload: Bytes) -> Result<T, PayloadError> {
        postcard::from_bytes(&payload).map_err(|e| PayloadError::Decode {
            type_name: std::any::type_name::<T>(),
            source: Box::new(e),
        })
    }
}
