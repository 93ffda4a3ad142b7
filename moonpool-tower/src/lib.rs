//! FoundationDB-style peers, endpoints and RPC as tower services.
//!
//! - [`transport`]: the node: its listening address, accept loop and peers;
//! - [`peer`]: one remote address as a reconnecting `tower::Service` of
//!   packets, with reliable (at-least-once) and unreliable (at-most-once)
//!   delivery, a handshake and a ping monitor;
//! - [`net`]: the network seams and their real-TCP implementations;
//! - [`executor`]: where background tasks run;
//! - [`backoff`] and [`reconnect`]: jittered backoff schedules and a
//!   reconnecting tower service built on them.
//!
//! ```no_run
//! use moonpool_codec::{Packet, Uid};
//! use moonpool_tower::net::{TcpConnector, TcpIncoming};
//! use moonpool_tower::peer::Outgoing;
//! use moonpool_tower::transport::{InboundChannel, Transport};
//! use rand::SeedableRng;
//! use rand::rngs::StdRng;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // A server: listens, and receives packets through a channel.
//! let incoming = TcpIncoming::bind("127.0.0.1:0".parse()?).await?;
//! let server_address = incoming.local_addr()?.into();
//! let (handler, mut received) = InboundChannel::new(1024);
//! let server = Transport::builder(TcpConnector::new(), StdRng::seed_from_u64(1))
//!     .listen(server_address, incoming)
//!     .inbound(handler)
//!     .build()?;
//!
//! // A client: no listener; the server replies on the client's connection.
//! let client = Transport::builder(TcpConnector::new(), StdRng::seed_from_u64(2)).build()?;
//! let mut peer = client.peer(server_address);
//! let receipt = peer
//!     .send(Outgoing::reliable(Packet::new(Uid::new(7, 7), &b"hello"[..])))
//!     .await?;
//!
//! let inbound = received.recv().await.ok_or("server stopped")?;
//! assert_eq!(&inbound.packet.payload[..], b"hello");
//! // The reply acknowledges the request: stop resending it.
//! receipt.reliable_handle().map(|handle| handle.cancel());
//!
//! client.shutdown().await;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod actor;
pub mod backoff;
pub mod endpoint;
pub mod executor;
mod interface;
pub mod net;
pub mod peer;
pub mod reconnect;
pub mod rpc;
pub mod transport;

pub use backoff::{BackoffConfig, JitteredBackoff};
pub use reconnect::{Reconnect, ReconnectLayer};

#[doc(hidden)]
pub mod __private {
    //! Re-exports for [`interface!`](crate::interface); not a public API.
    pub use moonpool_codec;
    pub use tower;
}
