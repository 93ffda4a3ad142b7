//! moonpool's wire format as a [`tokio-util`](tokio_util) codec.
//!
//! A moonpool connection carries frames, each addressed to an endpoint by a
//! 128-bit token and protected by a CRC-32C checksum:
//!
//! ```text
//! [len: u32 LE][crc32c: u32 LE][token.first: u64 LE][token.second: u64 LE][payload]
//! ```
//!
//! This crate has no runtime and does no I/O. [`PacketCodec`] implements
//! `tokio_util::codec::{Decoder, Encoder}`, so it plugs into `Framed`,
//! `FramedRead` and `FramedWrite` in any tokio program:
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use moonpool_codec::{Packet, PacketCodec, Uid};
//! use tokio::net::TcpStream;
//! use tokio_util::codec::Framed;
//!
//! # async fn run() -> Result<(), moonpool_codec::WireError> {
//! let stream = TcpStream::connect("127.0.0.1:4500").await?;
//! let mut framed = Framed::new(stream, PacketCodec::new());
//! framed.send(Packet::new(Uid::new(1, 2), &b"hello"[..])).await?;
//! if let Some(reply) = framed.next().await {
//!     let reply = reply?;
//!     println!("{} bytes for {}", reply.payload.len(), reply.token);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Guarantees (see `docs/wire-format.md`, the normative description):
//! - decoding is zero-copy: a payload is a `Bytes` split off the read buffer;
//! - the decoder never allocates on a peer's say-so: a length over the
//!   maximum (8 MiB by default) or under the 24-byte header is an error
//!   before any buffer grows;
//! - a checksum mismatch is an error, never a packet;
//! - an over-long packet is an error to the encoder's caller, never a
//!   truncation.
//!
//! Typed payloads go through a [`PayloadCodec`]: [`ProstCodec`] for
//! protobuf messages, and `PostcardCodec` for serde types with the `serde`
//! feature.

mod address;
mod codec;
mod error;
mod packet;
mod payload;
mod uid;

pub use address::{AddressParseError, Endpoint, NetworkAddress};
pub use codec::{DEFAULT_MAX_FRAME_LENGTH, HEADER_LEN, PacketCodec, frame_checksum};
pub use error::WireError;
pub use packet::Packet;
#[cfg(feature = "serde")]
pub use payload::PostcardCodec;
pub use payload::{PayloadCodec, PayloadError, ProstCodec};
pub use uid::{Uid, WellKnownToken};
