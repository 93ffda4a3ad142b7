//! What a node's tasks share: configuration, the network seams, the peers
//! map, the RNG, the executor and the shutdown signal.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use moonpool_codec::NetworkAddress;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use super::tasks::TaskSet;
use super::{InboundHandler, TransportConfig};
use crate::backoff::{BackoffConfigError, JitteredBackoff};
use crate::net::BoxConnector;
use crate::peer::{Established, PeerShared, lock, spawn_keeper};

/// The state shared by a transport and every task it started.
pub(crate) struct NodeContext {
    pub(crate) config: TransportConfig,
    /// Our listening address, announced in handshakes.
    pub(crate) local: Option<NetworkAddress>,
    pub(crate) handler: Arc<dyn InboundHandler>,
    pub(crate) shutdown: CancellationToken,
    /// Makes each keeper's reconnection schedule (validated at build).
    pub(crate) backoff: JitteredBackoff,
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

    /// The peer of `address`, created (and its keeper started) on first use.
    pub(crate) fn peer(self: &Arc<Self>, address: NetworkAddress) -> Arc<PeerShared> {
        let mut peers = lock(&self.peers);
        self.peer_locked(&mut peers, address)
    }

    fn peer_locked(
        self: &Arc<Self>,
        peers: &mut BTreeMap<NetworkAddress, Arc<PeerShared>>,
        address: NetworkAddress,
    ) -> Arc<PeerShared> {
        if let Some(shared) = peers.get(&address) {
            return shared.clone();
        }
        let shared = self.new_peer(Some(address));
        if self.shutdown.is_cancelled() || !spawn_keeper(self, shared.clone(), None) {
            // Shut down: a peer nobody serves is closed from the start.
            shared.close();
            return shared;
        }
        peers.insert(address, shared.clone());
        shared
    }

    fn new_peer(&self, address: Option<NetworkAddress>) -> Arc<PeerShared> {
        let config = &self.config.peer;
        Arc::new(PeerShared::new(
            address,
            config.queue_capacity,
            config.max_frame_length,
        ))
    }

    /// Hands an incoming connection to the peer of the address it announced,
    /// or to a new anonymous peer if it announced none.
    pub(crate) fn attach_incoming(self: &Arc<Self>, connection: Established) {
        match connection
            .remote
            .listen
            .filter(|&remote| Some(remote) != self.local)
        {
            Some(address) => {
                // Under the map lock, so that an idle peer being forgotten
                // cannot lose the connection (see `forget`).
                let mut peers = lock(&self.peers);
                self.peer_locked(&mut peers, address).attach(connection);
            }
            None => {
                if self.shutdown.is_cancelled() {
                    return;
                }
                // Not started after shutdown: the connection is dropped.
                let _ = spawn_keeper(self, self.new_peer(None), Some(connection));
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
