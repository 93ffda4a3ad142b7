//! The node: its listening address, its accept loop, its peers.
//!
//! A [`Transport`] owns one [`Peer`] per remote address, created on first
//! use ([`Transport::peer`]). Incoming connections are accepted from any
//! `Stream<Item = io::Result<(IO, SocketAddr)>>`; after the handshake each
//! serves as the connection of the peer of the address the remote
//! announced, or of a new anonymous peer for a client that does not listen.
//! Every received packet (other than handshake, ping and pong frames) goes
//! to the [`InboundHandler`] the transport was built with, with the `Peer`
//! to reply through.
//!
//! **Simultaneous connects.** When two nodes dial each other at once, both
//! keep the connection initiated by the node with the lower listening
//! address (`NetworkAddress` order: IP, then port, then flags); the other is
//! closed by both, its reliable packets resent on the winner (its unsent
//! unreliable packets are discarded, as on any connection end).

mod accept;
mod admission;
mod config;
mod context;
mod error;
mod handshakes;
mod inbound;
mod tasks;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_core::Stream;
use moonpool_codec::NetworkAddress;
use rand::SeedableRng;
use rand::rngs::{StdRng, SysRng};
use tokio::io::{AsyncRead, AsyncWrite};
use tower::BoxError;

pub use admission::AcceptMetrics;
pub use config::{AcceptConfig, EndpointConfig, TransportConfig};
pub use error::TransportConfigError;
pub use inbound::{DiscardInbound, Inbound, InboundChannel, InboundHandler};

pub(crate) use context::NodeContext;
use tasks::TaskSet;

use crate::endpoint::EndpointRouter;
use crate::executor::{Executor, SharedExecutor, TokioExecutor, share};
use crate::net::{BoxConnector, BoxIncoming, box_connector, box_incoming};
use crate::peer::Peer;

/// A node of the network: a cheaply `Clone` handle.
///
/// When the last handle is dropped the transport shuts down (without
/// waiting); [`Transport::shutdown`] shuts down and waits.
#[derive(Clone)]
pub struct Transport {
    handle: Arc<TransportHandle>,
}

/// Shuts the node down when the last `Transport` handle goes.
struct TransportHandle {
    ctx: Arc<NodeContext>,
    router: EndpointRouter,
}

impl Drop for TransportHandle {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

impl Transport {
    /// Starts building a transport that dials through `connector` (any
    /// `tower::MakeConnection<SocketAddr>` that is `Clone + Send`).
    ///
    /// The transport's randomness (connection ids, reply tokens, backoff
    /// jitter) is seeded from the operating system's entropy when it is
    /// built, so two runs of a program never draw the same tokens; inside a
    /// moonpool simulation that entropy comes from the seed. Give
    /// [`TransportBuilder::seed`] or [`TransportBuilder::rng`] to seed it
    /// yourself.
    pub fn builder<C>(connector: C) -> TransportBuilder
    where
        C: tower::Service<SocketAddr> + Clone + Send + 'static,
        C::Response: AsyncRead + AsyncWrite + Send + Unpin + 'static,
        C::Error: Into<BoxError>,
        C::Future: Send + 'static,
    {
        TransportBuilder {
            connector: box_connector(connector),
            rng: None,
            listen: None,
            executor: share(TokioExecutor),
            config: TransportConfig::default(),
            handler: None,
        }
    }

    /// The peer of `address`, created on first use. Its keeper connects only
    /// once something is queued.
    pub fn peer(&self, address: NetworkAddress) -> Peer {
        self.handle.ctx.peer(address)
    }

    /// The address this node listens at and announces, if it listens.
    pub fn local_address(&self) -> Option<NetworkAddress> {
        self.handle.ctx.local
    }

    /// The node's endpoints: register services and request streams here;
    /// RPC clients made from this transport keep their pending calls here.
    pub fn router(&self) -> &EndpointRouter {
        &self.handle.router
    }

    /// The configuration.
    pub fn config(&self) -> &TransportConfig {
        &self.handle.ctx.config
    }

    /// The addresses of the peers the transport currently keeps.
    pub fn peer_addresses(&self) -> Vec<NetworkAddress> {
        self.handle.ctx.peer_addresses()
    }

    /// A snapshot of the incoming-connection counters: accepted, refused by
    /// the limits of [`AcceptConfig`], in handshake now, anonymous peers now.
    pub fn accept_metrics(&self) -> AcceptMetrics {
        self.handle.ctx.admission.metrics()
    }

    /// Stops accepting, closes every connection and every peer (queued
    /// packets are dropped; `call` on any handle then fails with
    /// [`PeerError::Closed`](crate::peer::PeerError::Closed)), drops the
    /// endpoint services' calls still running (their replies could no
    /// longer be sent), and waits until every task the transport started,
    /// the router's included, has finished. No task is started afterwards.
    pub async fn shutdown(&self) {
        self.handle.ctx.shutdown().await;
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("local", &self.handle.ctx.local)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Transport`] (see [`Transport::builder`]).
pub struct TransportBuilder {
    connector: BoxConnector,
    /// `None`: seeded from OS entropy at `build`.
    rng: Option<StdRng>,
    listen: Option<(NetworkAddress, BoxIncoming)>,
    executor: SharedExecutor,
    config: TransportConfig,
    handler: Option<Arc<dyn InboundHandler>>,
}

impl TransportBuilder {
    /// Accepts connections from `incoming` and announces `address` as ours
    /// (the address remotes dial: with port 0 binding, the bound port). A
    /// transport that does not listen is a client: remotes reply on the
    /// connections it opened.
    pub fn listen<S, IO>(mut self, address: NetworkAddress, incoming: S) -> Self
    where
        S: Stream<Item = io::Result<(IO, SocketAddr)>> + Send + 'static,
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        self.listen = Some((address, box_incoming(incoming)));
        self
    }

    /// Draws the transport's randomness from `rng` instead of a generator
    /// seeded from OS entropy: in a simulation, give it the simulated
    /// host's seeded RNG; in a test, a `StdRng::seed_from_u64(..)`. The same
    /// RNG state gives the same connection ids and reply tokens.
    pub fn rng(mut self, rng: StdRng) -> Self {
        self.rng = Some(rng);
        self
    }

    /// Seeds the transport's randomness with `seed` instead of OS entropy:
    /// the same as [`rng`](Self::rng)`(StdRng::seed_from_u64(seed))`,
    /// without naming `rand`. For tests that want the same tokens on every
    /// run; a production node should keep the default, or restarts would
    /// reuse its tokens.
    pub fn seed(self, seed: u64) -> Self {
        self.rng(StdRng::seed_from_u64(seed))
    }

    /// Starts background tasks through `executor` instead of `tokio::spawn`.
    pub fn executor<E: Executor>(mut self, executor: E) -> Self {
        self.executor = share(executor);
        self
    }

    /// Replaces the default configuration.
    pub fn config(mut self, config: TransportConfig) -> Self {
        self.config = config;
        self
    }

    /// Delivers received packets that no endpoint of the
    /// [`router`](Transport::router) serves to `handler`. By default there
    /// is none: such packets are answered `EndpointNotFound`.
    pub fn inbound<H: InboundHandler>(mut self, handler: H) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Builds the transport and starts its accept loop, if it listens.
    /// Must be called where the executor can spawn (inside a tokio runtime
    /// for the default one).
    ///
    /// Fails if the configuration is invalid (see
    /// [`TransportConfig::validate`]): an invalid reconnection schedule, or
    /// a capacity too large to enforce; or, with neither
    /// [`rng`](Self::rng) nor [`seed`](Self::seed) given, if the operating
    /// system has no entropy to give
    /// ([`TransportConfigError::NoEntropy`]).
    pub fn build(self) -> Result<Transport, TransportConfigError> {
        self.config.validate()?;
        let mut rng = match self.rng {
            Some(rng) => rng,
            None => StdRng::try_from_rng(&mut SysRng)
                .map_err(|source| TransportConfigError::NoEntropy { source })?,
        };
        let (local, incoming) = match self.listen {
            Some((address, incoming)) => (Some(address), Some(incoming)),
            None => (None, None),
        };
        let tasks = Arc::new(TaskSet::new(self.executor));
        // The router answers every packet; what it does not serve goes to
        // the handler given to `inbound`, if any. Its tasks are the
        // transport's: counted, dropped at shutdown, refused after it.
        let router = EndpointRouter::new(
            local,
            tasks.cancelling_executor(),
            StdRng::from_rng(&mut rng),
            self.handler,
            self.config.endpoint.clone(),
        );
        let ctx = Arc::new(NodeContext::new(
            self.config,
            local,
            Arc::new(router.clone()),
            self.connector,
            tasks,
            rng,
        )?);
        if let Some(incoming) = incoming {
            // A fresh context is not shut down: the loop always starts.
            let _ = ctx.spawn(accept::accept_loop(ctx.clone(), incoming));
        }
        Ok(Transport {
            handle: Arc::new(TransportHandle { ctx, router }),
        })
    }
}

impl std::fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("listen", &self.listen.as_ref().map(|(address, _)| address))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
