//! moonpool's wire format as a [`tokio-util`](tokio_util) codec.
//!
//! A moonpool connection carries frames, each addressed to an endpoint by a
//! 128-bit token and protected by a CRC-32C checksum, all integers
//! little-endian:
//!
//! ```text
//! [len: u32 = 24 + payload length][crc32c: u32 of bytes 8..len][token.first: u64][token.second: u64][payload]
//! ```
//!
//! [`wire_format`] (the repository's `docs/wire-format.md`) is the normative
//! description, with test vectors.
//!
//! # Contents
//!
//! | item | what it is |
//! | --- | --- |
//! | [`Uid`], [`WellKnownToken`] | the 128-bit token that names an endpoint; the tokens every node serves |
//! | [`NetworkAddress`], [`Endpoint`] | where a node listens (IP, port, TLS/public flags); an endpoint is an address plus a token |
//! | [`Packet`] | one frame's content: a token and a zero-copy [`Bytes`](bytes::Bytes) payload |
//! | [`PacketCodec`] | `Decoder<Item = Packet>` and `Encoder<Packet>` for `Framed`, `FramedRead`, `FramedWrite` |
//! | [`WireError`] | everything that can be wrong with a frame, with the numbers to act on |
//! | [`frame_checksum`], [`HEADER_LEN`], [`DEFAULT_MAX_FRAME_LENGTH`] | the frame's constants, for other implementations and tests |
//! | [`PayloadCodec`], [`ProstCodec`], `PostcardCodec` | typed payloads: protobuf built in, serde (postcard) with the `serde` feature |
//!
//! This crate has no runtime and does no I/O: it plugs into any tokio
//! program through `tokio_util::codec`.
//!
//! # Example
//!
//! Two ends of a connection (an in-memory pipe here; a `TcpStream` works the
//! same) exchange packets:
//!
//! ```
//! use futures_util::{SinkExt, StreamExt};
//! use moonpool_codec::{Packet, PacketCodec, Uid, WellKnownToken, WireError};
//! use tokio_util::codec::Framed;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), WireError> {
//! let (client, server) = tokio::io::duplex(64 * 1024);
//! let mut client = Framed::new(client, PacketCodec::new());
//! let mut server = Framed::new(server, PacketCodec::new());
//!
//! let token = Uid::new(0x0123_4567_89ab_cdef, 42);
//! client.send(Packet::new(token, &b"hello"[..])).await?;
//!
//! let request = server.next().await.expect("the client sent one packet")?;
//! assert_eq!(request.token, token);
//! assert_eq!(&request.payload[..], b"hello");
//!
//! // Answer on a well-known token, then close: the client sees the packet,
//! // then the end of the stream.
//! server.send(Packet::new(WellKnownToken::Ping.uid(), request.payload)).await?;
//! drop(server);
//! let reply = client.next().await.expect("the server replied")?;
//! assert_eq!(WellKnownToken::from_uid(reply.token), Some(WellKnownToken::Ping));
//! assert!(client.next().await.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - Decoding is zero-copy: a payload is a `Bytes` split off the read buffer.
//! - The decoder never allocates on a peer's say-so: a length over the
//!   maximum (8 MiB by default) or under the 24-byte header is an error
//!   before any buffer grows, and an incomplete frame keeps the buffer's
//!   capacity under four times the bytes already received.
//! - Any single-bit error in the checksum, token or payload is
//!   [`WireError::ChecksumMismatch`]; a damaged length is an error or waits
//!   for bytes, and never yields a packet (both tested exhaustively, bit by
//!   bit, on sample frames).
//! - A frame decodes the same however the stream cuts it.
//! - An over-long packet is an error to the encoder's caller, never a
//!   truncation.
//! - After an error the connection is out of sync and must be closed; the
//!   decoder keeps reporting the error if asked again.
//!
//! # Payloads
//!
//! A [`PayloadCodec`] turns a typed value into a payload and back.
//! [`ProstCodec`] is built in for protobuf messages. With the `serde`
//! feature, `PostcardCodec` serves any serde type in the
//! [postcard](https://docs.rs/postcard) format, chosen because its wire
//! format is specified and frozen at 1.0, it is compact (varints, no field
//! names, no type tags), fast, and actively maintained; self-describing
//! formats (JSON, CBOR, MessagePack) spend bytes on every message on field
//! names and type tags that both ends already know.
//! The `serde` feature also derives `Serialize`/`Deserialize` for [`Uid`],
//! [`NetworkAddress`] and [`Endpoint`].

#![forbid(unsafe_code)]

mod address;
mod checksum;
mod codec;
mod error;
mod packet;
mod payload;
mod uid;

/// The normative description of the wire format, with test vectors: the
/// repository's `docs/wire-format.md`, included here so it is one click
/// from the types it describes.
pub mod wire_format {
    #![doc = include_str!("../../docs/wire-format.md")]
}

pub use address::{AddressParseError, Endpoint, NetworkAddress};
pub use checksum::frame_checksum;
pub use codec::{DEFAULT_MAX_FRAME_LENGTH, HEADER_LEN, PacketCodec};
pub use error::WireError;
pub use packet::Packet;
#[cfg(feature = "serde")]
pub use payload::PostcardCodec;
pub use payload::{PayloadCodec, PayloadError, ProstCodec};
pub use uid::{Uid, WellKnownToken};
