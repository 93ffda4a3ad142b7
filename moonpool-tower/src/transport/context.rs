//! What a node's tasks share: configuration, the network seams, the peers
//! map, the RNG, the executor and the shutdown signal.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use moonpool_codec::NetworkAddress;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use super::admission::{Admission, Slot};
use super::tasks::TaskSet;
use super::{InboundHandler, TransportConfig};
use crate::backoff::{BackoffConfigError, JitteredBackoff};
use crate::net::BoxConnector;
use crate::peer::{Established, Peer, PeerShared, lock, spawn_keeper};

/// The state shared by a transport and every task it started.
pub(crate) struct NodeContext {
    pub(crate) config: TransportConfig,
    /// Our listening address, announced in handshakes.
    pub(crate) local: Option<NetworkAddress>,
    pub(crate) handler: Arc<dyn InboundHandler>,
    pub(crate) shutdown: CancellationToken,
    /// Makes each keeper's reconnection schedule (validated at build).
    pub(crate) backoff: JitteredBackoff,
    /// The limits on incoming connections.
    pub(crate) admission: Admission,
    connector: Mutex<BoxConnector>,
    tasks: Arc<TaskSet>,
    rng: Mutex<StdRng>,
    peers: Mutex<BTreeMap<NetworkAddress, Arc<PeerShared>>>,
}

impl NodeContext {
    pub(crate) fn new(
        config: TransportConfig,
        local: Option<NetworkAddress>,
        handler: Arc<dyn InboundHandler>,
        connector: BoxConnector,
        tasks: Arc<TaskSet>,
        mut rng: StdRng,
    ) -> Result<Self, BackoffConfigError> {
        let backoff = JitteredBackoff::new(config.peer.reconnect, StdRng::from_rng(&mut rng))?;
        Ok(Self {
            admission: Admission::new(&config.accept),
            config,
            local,
            handler,
            shutdown: tasks.shutdown_token(),
            backoff,
            connector: Mutex::new(connector),
            tasks,
            rng: Mutex::new(rng),
            peers: Mutex::new(BTreeMap::new()),
        })
    }

    /// Starts a task through the executor; it counts as running until it
    /// finishes. After shutdown, nothing new is started: returns whether the
    /// task was started.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> bool {
        self.tasks.spawn(task)
    }

    /// A connector of our own.
    pub(crate) fn connector(&self) -> BoxConnector {
        lock(&self.connector).clone()
    }

    /// An RNG for one peer, seeded from the node's.
    pub(crate) fn fork_rng(&self) -> StdRng {
        StdRng::from_rng(&mut *lock(&self.rng))
    }

    /// A random connection id.
    pub(crate) fn connection_id(&self) -> u64 {
        lock(&self.rng).next_u64()
    }

    /// A user's handle to the peer of `address`, created (and its keeper
    /// started) on first use.
    pub(crate) fn peer(self: &Arc<Self>, address: NetworkAddress) -> Peer {
        let (peer, created) = {
            let mut peers = lock(&self.peers);
            let (shared, created) = self.peer_locked(&mut peers, address);
            // Counted as a user under the map lock: `forget` checks for
            // users under the same lock, so an idle peer cannot be closed
            // between being found here and being handed out.
            (Peer::new(shared), created)
        };
        if let Some(created) = created {
            self.start_keeper(created, None, None);
        }
        peer
    }

    /// The peer of `address` in the map, added if missing. Returns it, and
    /// it again if it was just added: its keeper is then started by the
    /// caller, once the map lock is released (the executor is user code).
    fn peer_locked(
        &self,
        peers: &mut BTreeMap<NetworkAddress, Arc<PeerShared>>,
        address: NetworkAddress,
    ) -> (Arc<PeerShared>, Option<Arc<PeerShared>>) {
        if let Some(shared) = peers.get(&address) {
            return (shared.clone(), None);
        }
        let shared = self.new_peer(Some(address));
        if self.shutdown.is_cancelled() {
            // Shut down: a peer nobody serves is closed from the start.
            shared.close();
            return (shared, None);
        }
        peers.insert(address, shared.clone());
        (shared.clone(), Some(shared))
    }

    /// Starts the keeper of a peer just made. If it cannot be started (the
    /// transport shut down meanwhile), the peer is removed and closed.
    fn start_keeper(
        self: &Arc<Self>,
        shared: Arc<PeerShared>,
        first: Option<Established>,
        slot: Option<Slot>,
    ) {
        if !spawn_keeper(self, shared.clone(), first, slot) {
            self.remove(&shared);
            shared.close();
        }
    }

    fn new_peer(&self, address: Option<NetworkAddress>) -> Arc<PeerShared> {
        let config = &self.config.peer;
        Arc::new(PeerShared::new(address, config))
    }

    /// Hands an incoming connection from `from` to the peer of the address
    /// it announced, or to a new anonymous peer if it announced none (as
    /// long as fewer than
    /// [`AcceptConfig::max_anonymous_peers`](super::AcceptConfig::max_anonymous_peers)
    /// exist; beyond that, the connection is closed).
    pub(crate) fn attach_incoming(self: &Arc<Self>, connection: Established, from: SocketAddr) {
        match connection
            .remote
            .listen
            .filter(|&remote| Some(remote) != self.local)
        {
            Some(address) => {
                let (replaced, created) = {
                    // Under the map lock, so that an idle peer being
                    // forgotten cannot lose the connection (see `forget`).
                    let mut peers = lock(&self.peers);
                    let (shared, created) = self.peer_locked(&mut peers, address);
                    (shared.attach(connection), created)
                };
                // Closed outside the lock: dropping an I/O object is user code.
                drop(replaced);
                if let Some(created) = created {
                    self.start_keeper(created, None, None);
                }
            }
            None => {
                if self.shutdown.is_cancelled() {
                    return;
                }
                let Some(slot) = self.admission.anonymous_peer(from) else {
                    return;
                };
                // Not started after shutdown: the connection is dropped.
                let _ = spawn_keeper(self, self.new_peer(None), Some(connection), Some(slot));
            }
        }
    }

    /// Forgets an idle peer, if it is still unused. Returns whether it did.
    pub(crate) fn forget(&self, shared: &Arc<PeerShared>) -> bool {
        let mut peers = lock(&self.peers);
        if !shared.is_unused() {
            return false;
        }
        Self::remove_locked(&mut peers, shared);
        true
    }

    fn remove_locked(
        peers: &mut BTreeMap<NetworkAddress, Arc<PeerShared>>,
        shared: &Arc<PeerShared>,
    ) {
        if let Some(address) = shared.address
            && peers.get(&address).is_some_and(|p| Arc::ptr_eq(p, shared))
        {
            peers.remove(&address);
        }
    }

    /// Removes a closed peer from the map.
    pub(crate) fn remove(&self, shared: &Arc<PeerShared>) {
        Self::remove_locked(&mut lock(&self.peers), shared);
    }

    /// The addresses of the peers in the map.
    pub(crate) fn peer_addresses(&self) -> Vec<NetworkAddress> {
        lock(&self.peers).keys().copied().collect()
    }

    /// Signals shutdown and waits for every task to finish.
    pub(crate) async fn shutdown(&self) {
        self.tasks.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{TokioExecutor, share};
    use crate::net::box_connector;
    use crate::transport::DiscardInbound;

    fn context() -> Arc<NodeContext> {
        let refuse = tower::service_fn(|_: SocketAddr| async {
            Err::<tokio::io::DuplexStream, _>(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))
        });
        let tasks = Arc::new(TaskSet::new(share(TokioExecutor)));
        let ctx = NodeContext::new(
            TransportConfig::default(),
            None,
            Arc::new(DiscardInbound),
            box_connector(refuse),
            tasks,
            StdRng::seed_from_u64(1),
        );
        Arc::new(ctx.unwrap())
    }

    /// `forget` (the keeper's idle path) decides under the map lock from the
    /// user count; a handle counted only after the lock was released could
    /// be handed out closed.
    #[tokio::test(start_paused = true)]
    async fn a_handed_out_peer_is_counted_before_the_map_lock_is_released() {
        let ctx = context();
        let address: NetworkAddress = "10.0.0.1:1".parse().unwrap();
        let peer = ctx.peer(address);
        let shared = lock(&ctx.peers).get(&address).cloned().unwrap();
        assert_eq!(shared.users(), 1);
        assert!(!ctx.forget(&shared), "in use: not forgotten");
        let again = ctx.peer(address);
        assert!(again.same_peer(&peer));
        assert_eq!(shared.users(), 2);
        drop((peer, again));
        assert!(ctx.forget(&shared), "unused: forgotten");
        assert!(ctx.peer_addresses().is_empty());
        ctx.shutdown().await;
    }
}
