//! FoundationDB-style peers, endpoints and RPC as tower services.
//!
//! A node is a [`Transport`](transport::Transport): it listens (or not),
//! keeps one [`Peer`](peer::Peer) per remote address, and routes every
//! packet it receives to its [`EndpointRouter`](endpoint::EndpointRouter).
//! A server registers tower services or request streams at tokens; a client
//! calls them through [`RpcClient`](rpc::RpcClient), itself a tower service
//! that composes with tower's `Timeout`, `Retry`, `ConcurrencyLimit`,
//! `LoadShed` and `Buffer`. The network is reached only through a connector
//! and a stream of accepted connections, so the same stack runs over real
//! TCP and over a simulator.
//!
//! - [`transport`]: the node: its listening address, accept loop, peers and
//!   router;
//! - [`peer`]: one remote address as a reconnecting `tower::Service` of
//!   packets, with reliable (at-least-once) and unreliable (at-most-once)
//!   delivery, a handshake and a ping monitor;
//! - [`endpoint`]: the router (token to service), typed endpoints, and the
//!   path replies take;
//! - [`rpc`]: the typed client, [`RpcError`](rpc::RpcError), the wire
//!   [`envelope`](rpc::envelope), and a retry policy that retries only what
//!   is safe;
//! - [`actor`]: [`RequestStream`](actor::RequestStream) and
//!   [`ReplyPromise`](actor::ReplyPromise) for servers written as `select!`
//!   loops;
//! - [`interface!`]: one definition of a multi-method interface, both sides;
//! - [`net`]: the network seams and their real-TCP implementations;
//! - [`executor`]: where background tasks run;
//! - [`backoff`] and [`reconnect`]: jittered backoff schedules and a
//!   reconnecting tower service built on them;
//! - [`knobs`]: every configuration drawn from documented ranges, for
//!   simulations that randomize their knobs per seed.
//!
//! A complete program: a server and a client on loopback TCP, the client
//! wrapped in tower layers.
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use moonpool_codec::{Endpoint, Uid};
//! use moonpool_tower::net::{TcpConnector, TcpIncoming};
//! use moonpool_tower::rpc::{RpcClient, RpcError};
//! use moonpool_tower::transport::Transport;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! #[derive(Clone, PartialEq, prost::Message)]
//! struct Ping { #[prost(uint64, tag = "1")] seq: u64 }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! const ECHO: Uid = Uid::well_known(64);
//!
//! // The server listens and serves a tower service at a token.
//! let incoming = TcpIncoming::bind("127.0.0.1:0".parse()?).await?;
//! let address = incoming.local_addr()?.into();
//! let server = Transport::builder(TcpConnector::new())
//!     .listen(address, incoming)
//!     .build()?;
//! let echo = tower::service_fn(|ping: Ping| async move { Ok::<_, Infallible>(ping) });
//! server.router().serve(ECHO, echo)?;
//!
//! // The client needs no listener: replies come back on its connection.
//! let client = Transport::builder(TcpConnector::new()).build()?;
//! let rpc = ServiceBuilder::new()
//!     .timeout(Duration::from_secs(5))
//!     .service(RpcClient::<Ping, Ping>::new(&client, Endpoint::new(address, ECHO)));
//! let pong = rpc.oneshot(Ping { seq: 7 }).await?;
//! assert_eq!(pong.seq, 7);
//!
//! // A token nobody serves: the server says so.
//! let nowhere = RpcClient::<Ping, Ping>::new(&client, Endpoint::new(address, Uid::new(1, 2)));
//! assert!(matches!(
//!     nowhere.get_reply(Ping { seq: 1 }).await,
//!     Err(RpcError::EndpointNotFound { .. })
//! ));
//!
//! client.shutdown().await;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Guarantees: every RPC resolves exactly once; a `poll_ready` never fails;
//! dropping a response future cancels its call; a late reply never harms a
//! connection; every task the stack starts goes through the transport's
//! [`Executor`](executor::Executor); a transport's randomness (reply
//! tokens, connection ids, reconnection jitter) comes from one RNG, seeded
//! from OS entropy unless the builder is given a
//! [`seed`](transport::TransportBuilder::seed) or an
//! [`rng`](transport::TransportBuilder::rng), and every other RNG (retry
//! and backoff jitter) is the caller's; no wait draws from tokio's thread
//! RNG.
//!
//! # Per-peer control
//!
//! An operator or a test can act on one peer without touching the others:
//! [`Peer::close_connection`](peer::Peer::close_connection) closes its
//! current connection (FIN), and [`Peer::reconnect`](peer::Peer::reconnect)
//! closes it and dials a new one at once. Either way the reliable queue
//! keeps its promise: reliable packets queued or in flight and not yet
//! acknowledged are resent, in order, on the next connection; unreliable
//! ones are discarded. [`Peer::metrics`](peer::Peer::metrics) counts such
//! closes in [`FailureCounts::closed_locally`](peer::FailureCounts::closed_locally).
//!
//! ```
//! use moonpool_codec::{Packet, Uid};
//! use moonpool_tower::net::{TcpConnector, TcpIncoming};
//! use moonpool_tower::peer::{Outgoing, PeerState};
//! use moonpool_tower::transport::Transport;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let incoming = TcpIncoming::bind("127.0.0.1:0".parse()?).await?;
//! let address = incoming.local_addr()?.into();
//! let server = Transport::builder(TcpConnector::new())
//!     .listen(address, incoming)
//!     .build()?;
//! let client = Transport::builder(TcpConnector::new()).build()?;
//! let mut peer = client.peer(address);
//! let mut events = peer.connection_events();
//! // Held (and resent on every new connection) until cancelled.
//! peer.send(Outgoing::reliable(Packet::new(Uid::new(1, 2), &b"hi"[..]))).await?;
//! events.wait_for(|e| e.state == PeerState::Connected).await?;
//!
//! // Drop this peer's connection: the held packet goes out again on the
//! // next one, dialed at once because something is held.
//! peer.close_connection();
//! events.wait_for(|e| e.connections == 2 && e.state == PeerState::Connected).await?;
//!
//! // Force a fresh connection, whether or not anything is queued.
//! peer.reconnect();
//! events.wait_for(|e| e.connections == 3 && e.state == PeerState::Connected).await?;
//! assert_eq!(peer.metrics().failures.closed_locally, 2);
//!
//! drop(peer);
//! client.shutdown().await;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # API changes
//!
//! - [`Peer::close_connection`](peer::Peer::close_connection) and
//!   [`Peer::reconnect`](peer::Peer::reconnect) are new; a connection they
//!   close ends with the new
//!   [`ConnectionError::ClosedLocally`](peer::ConnectionError::ClosedLocally),
//!   counted under the new [`FailureCause::ClosedLocally`](peer::FailureCause::ClosedLocally)
//!   and [`FailureCounts::closed_locally`](peer::FailureCounts::closed_locally):
//!   an exhaustive `match` on those enums, or a `FailureCounts` literal,
//!   needs the new case.
//! - [`EndpointConfig`](transport::EndpointConfig) has a new field,
//!   `well_known_slots` (the endpoint map's fixed array; see
//!   [`EndpointMap`](endpoint::EndpointMap)): a struct literal needs
//!   `..EndpointConfig::default()`.
//! - [`Transport::builder`](transport::Transport::builder) takes only the
//!   connector. Its RNG was a required `StdRng`, which led production nodes
//!   to pass constant seeds and draw the same tokens on every restart; it is
//!   now seeded from OS entropy at `build` (inside a moonpool simulation,
//!   from the seed). For the old behaviour, `Transport::builder(c, rng)`
//!   becomes `Transport::builder(c).rng(rng)`; in a simulation pass the
//!   host's RNG that way (`.rng(host.rng())`) to keep a seed's trace.
//!   [`TransportBuilder::seed`](transport::TransportBuilder::seed) takes a
//!   `u64`. `build` fails with
//!   [`TransportConfigError::NoEntropy`](transport::TransportConfigError::NoEntropy)
//!   if the OS has no entropy to give.
//! - [`Peer::connection_events`](peer::Peer::connection_events) returns a
//!   [`ConnectionEvents`](peer::ConnectionEvents), no longer a
//!   `tokio::sync::watch::Receiver<ConnectionEpoch>`: a `watch` wakes its
//!   waiters in an order drawn from tokio's thread RNG, which made
//!   simulation seeds replay differently. `borrow()` becomes `current()`;
//!   `changed()` and `wait_for()` return the value they waited for; the
//!   error is [`PeerGone`](peer::PeerGone).

#![forbid(unsafe_code)]

pub mod actor;
pub mod backoff;
pub mod endpoint;
pub mod executor;
mod interface;
pub mod knobs;
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
