//! The router: which service answers which token, and which pending call
//! waits for which reply token.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};

use moonpool_codec::{Endpoint, NetworkAddress, Packet, Uid, WellKnownToken};
use rand::rngs::StdRng;
use tokio::sync::oneshot;
use tower::util::BoxCloneService;
use tracing::{debug, trace};

use super::dispatch::{HandlerTasks, dispatch};
use super::map::EndpointMap;
use super::not_found::is_reserved;
use super::{IncomingPacket, ReplyPath, RouterError};
use crate::executor::SharedExecutor;
use crate::peer::{Peer, lock};
use crate::transport::{EndpointConfig, InboundHandler};

/// A service registered at a token: takes every packet addressed to it.
/// Its errors are its own business (it answers through the packet's
/// [`ReplyPath`]), so it cannot fail.
pub type PacketService = BoxCloneService<IncomingPacket, (), Infallible>;

/// How a pending call ends, as the router sees it.
#[derive(Debug)]
pub(crate) enum Resolution {
    /// A packet arrived at the reply token: the reply envelope.
    Reply(bytes::Bytes),
    /// The target's node reported that nobody serves the target's token.
    EndpointNotFound,
}

struct PendingReply {
    target: Endpoint,
    sender: oneshot::Sender<Resolution>,
}

struct Registered {
    /// Behind a lock of its own (a `BoxCloneService` is not `Sync`) so that
    /// `route` clones it — the user's `Clone` — after releasing the state's.
    service: Arc<Mutex<PacketService>>,
    id: u64,
}

struct RouterState {
    /// Well-known tokens in a fixed array, the rest in a hash map that is
    /// never iterated (see [`EndpointMap`]).
    endpoints: EndpointMap<Registered>,
    pending: BTreeMap<Uid, PendingReply>,
    rng: StdRng,
    next_id: u64,
}

/// The router's state and what it needs to dispatch.
///
/// The state lock is never held while user code runs: a registered
/// service's `Clone` and `Drop` (which may drop a `RequestStream`, a
/// `ReplyPromise` or an RPC response future, each of which locks the state
/// again) run after the guard is released.
pub(crate) struct RouterShared {
    state: Mutex<RouterState>,
    local: Option<NetworkAddress>,
    executor: SharedExecutor,
    /// The tasks of requests not answered at once, and their bound.
    pub(super) tasks: Arc<HandlerTasks>,
    /// Where packets for unknown tokens go instead of an `EndpointNotFound`
    /// answer, when the transport was given its own inbound handler.
    fallback: Option<Arc<dyn InboundHandler>>,
    pub(crate) config: EndpointConfig,
}

/// The endpoints of a node: a map from token to [`PacketService`], and the
/// table of calls waiting for a reply.
///
/// Every [`Transport`](crate::transport::Transport) has one
/// ([`Transport::router`](crate::transport::Transport::router)); it is the
/// transport's inbound handler. A cheaply `Clone` handle.
///
/// Delivery of a packet addressed to token `t`:
/// - `t` is a reply token of a pending call: the call resolves with it;
/// - a service is registered at `t`: the service gets the packet, with the
///   [`ReplyPath`] back to its sender. The service's `poll_ready` and its
///   response future are first polled in place (a service that answers at
///   once costs no task); the rest runs as a task of the transport's
///   executor, at most [`max_handler_tasks`](Self::max_handler_tasks) at
///   once, and at most
///   [`EndpointConfig::max_handler_tasks_per_peer`](crate::transport::EndpointConfig::max_handler_tasks_per_peer)
///   for the requests of one peer: beyond that the request is dropped,
///   which a typed endpoint answers `BrokenPromise`;
/// - `t` is the well-known `EndpointNotFound` token: the payload names a
///   token the sender does not serve, and every pending call addressed to
///   that token at the sender's listening address (this node's own for a
///   local delivery) fails with `EndpointNotFound`. A notice from a sender
///   without an address (a client that does not listen) fails nothing: no
///   call can be addressed to such a node;
/// - otherwise the sender is told with a packet to its `EndpointNotFound`
///   endpoint naming `t` — application well-known tokens (index
///   [`WellKnownToken::RESERVED`] and up) included, so a call that arrives
///   before its endpoint is registered resolves instead of waiting forever.
///   Only moonpool's own reserved tokens (index below `RESERVED`) are
///   dropped silently: a notice about the `EndpointNotFound` token itself
///   would draw another, and so on. A late reply (for a call that was
///   cancelled) ends up here too: its sender has no pending call for the
///   token, so the notice is dropped quietly at the other end.
#[derive(Clone)]
pub struct EndpointRouter {
    pub(crate) shared: Arc<RouterShared>,
}

impl EndpointRouter {
    pub(crate) fn new(
        local: Option<NetworkAddress>,
        executor: SharedExecutor,
        rng: StdRng,
        fallback: Option<Arc<dyn InboundHandler>>,
        config: EndpointConfig,
    ) -> Self {
        let state = RouterState {
            endpoints: EndpointMap::new(config.well_known_slots),
            pending: BTreeMap::new(),
            rng,
            next_id: 0,
        };
        Self {
            shared: Arc::new(RouterShared {
                state: Mutex::new(state),
                local,
                executor,
                tasks: HandlerTasks::new(
                    config.max_handler_tasks,
                    config.max_handler_tasks_per_peer,
                ),
                fallback,
                config,
            }),
        }
    }

    /// Registers `service` at `token`.
    ///
    /// Fails if `token` is taken, or is a well-known token below
    /// [`WellKnownToken::RESERVED`] (moonpool's own). Applications register
    /// their well-known endpoints at `Uid::well_known(i)` for `i >= 64`, and
    /// the methods of an interface at `base.adjusted(i)`.
    pub fn register<S>(&self, token: Uid, service: S) -> Result<(), RouterError>
    where
        S: tower::Service<IncomingPacket, Response = (), Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        self.shared
            .register(token, BoxCloneService::new(service))
            .map(|_id| ())
    }

    /// Removes the service at `token`. Returns whether one was registered.
    /// Packets that arrive afterwards are answered with `EndpointNotFound`.
    pub fn unregister(&self, token: Uid) -> bool {
        let removed = lock(&self.shared.state).endpoints.remove(&token);
        // Dropped here, with the state unlocked: see `RouterShared`.
        removed.is_some()
    }

    /// Whether a service is registered at `token`.
    pub fn is_registered(&self, token: Uid) -> bool {
        lock(&self.shared.state).endpoints.contains_key(&token)
    }

    /// A fresh random token (from the node's seeded RNG) that is neither
    /// registered nor a pending reply token.
    pub fn new_token(&self) -> Uid {
        let mut state = lock(&self.shared.state);
        state.fresh_token()
    }

    /// The address of this node (`None` for a node that does not listen).
    pub fn local_address(&self) -> Option<NetworkAddress> {
        self.shared.local
    }

    /// The endpoint `token` on this node, if it listens.
    pub fn endpoint(&self, token: Uid) -> Option<Endpoint> {
        self.shared
            .local
            .map(|address| Endpoint::new(address, token))
    }

    /// How many calls are waiting for a reply.
    pub fn pending_replies(&self) -> usize {
        lock(&self.shared.state).pending.len()
    }

    /// Delivers `packet` as if it had arrived from this node itself: the
    /// local-delivery path, which never touches a socket.
    pub fn deliver_local(&self, packet: Packet) {
        let path = ReplyPath::local(Arc::downgrade(&self.shared));
        self.shared.deliver(packet, path);
    }

    pub(crate) fn weak(&self) -> Weak<RouterShared> {
        Arc::downgrade(&self.shared)
    }
}

impl RouterState {
    fn fresh_token(&mut self) -> Uid {
        loop {
            let token = Uid::random(&mut self.rng);
            if !self.endpoints.contains_key(&token) && !self.pending.contains_key(&token) {
                return token;
            }
        }
    }
}

impl RouterShared {
    pub(crate) fn local_address(&self) -> Option<NetworkAddress> {
        self.local
    }

    /// Registers a service; returns its registration id.
    pub(crate) fn register(&self, token: Uid, service: PacketService) -> Result<u64, RouterError> {
        if is_reserved(token) {
            return Err(RouterError::ReservedToken { token });
        }
        let mut state = lock(&self.state);
        if state.endpoints.contains_key(&token) || state.pending.contains_key(&token) {
            // The refused service is dropped after the lock is released.
            drop(state);
            return Err(RouterError::TokenInUse { token });
        }
        state.next_id += 1;
        let id = state.next_id;
        let service = Arc::new(Mutex::new(service));
        state.endpoints.insert(token, Registered { service, id });
        debug!(%token, "endpoint registered");
        Ok(id)
    }

    /// Removes the registration `id` at `token`, if it is still the one
    /// there (a later registration at the same token is left alone).
    pub(crate) fn unregister_id(&self, token: Uid, id: u64) {
        let removed = {
            let mut state = lock(&self.state);
            if state.endpoints.get(&token).is_some_and(|r| r.id == id) {
                state.endpoints.remove(&token)
            } else {
                None
            }
        };
        if removed.is_some() {
            debug!(%token, "endpoint unregistered");
        }
        // `removed` is dropped here, with the state unlocked.
    }

    /// Opens a pending call to `target`: its fresh reply token and the
    /// receiver of its resolution.
    pub(crate) fn open_pending(&self, target: Endpoint) -> (Uid, oneshot::Receiver<Resolution>) {
        let (sender, receiver) = oneshot::channel();
        let mut state = lock(&self.state);
        let token = state.fresh_token();
        state.pending.insert(token, PendingReply { target, sender });
        (token, receiver)
    }

    /// Forgets a pending call (resolved, or given up by its caller).
    pub(crate) fn close_pending(&self, token: Uid) {
        let closed = lock(&self.state).pending.remove(&token);
        // Dropping the sender wakes the receiver: not under the lock.
        drop(closed);
    }

    /// Routes one packet (see [`EndpointRouter`]). Never blocks.
    pub(crate) fn deliver(&self, packet: Packet, path: ReplyPath) {
        if let Some(packet) = self.route(packet, || path.clone()) {
            self.not_found(packet, &path);
        }
    }

    /// Routes a packet; gives it back if nothing serves its token.
    fn route(&self, packet: Packet, path: impl FnOnce() -> ReplyPath) -> Option<Packet> {
        let token = packet.token;
        let registered = {
            let mut state = lock(&self.state);
            // Reply tokens are drawn by `Uid::random`, never well-known: a
            // well-known token skips the pending table and costs one array
            // load.
            if let Some(pending) = (!token.is_well_known())
                .then(|| state.pending.remove(&token))
                .flatten()
            {
                drop(state);
                trace!(%token, "reply received");
                // The caller may have just given up: then nobody listens.
                let _ = pending.sender.send(Resolution::Reply(packet.payload));
                return None;
            }
            match state.endpoints.get(&token) {
                Some(registered) => Arc::clone(&registered.service),
                None if token == WellKnownToken::EndpointNotFound.uid() => {
                    drop(state);
                    self.endpoint_not_found(&packet, path().address());
                    return None;
                }
                None => return Some(packet),
            }
        };
        // The user's `Clone` runs with the state unlocked, and so does the
        // user's `Drop` if the service was unregistered meanwhile.
        let service = lock(&registered).clone();
        drop(registered);
        dispatch(
            &self.executor,
            &self.tasks,
            service,
            IncomingPacket {
                packet,
                reply: path(),
            },
        );
        None
    }

    /// Fails with `EndpointNotFound` every pending call addressed to
    /// `target`; returns how many.
    pub(super) fn fail_pending_to(&self, target: Endpoint) -> usize {
        let failed: Vec<PendingReply> = {
            let mut state = lock(&self.state);
            let tokens: Vec<Uid> = state
                .pending
                .iter()
                .filter(|(_, pending)| pending.target == target)
                .map(|(token, _)| *token)
                .collect();
            tokens
                .iter()
                .filter_map(|token| state.pending.remove(token))
                .collect()
        };
        let count = failed.len();
        for pending in failed {
            // The caller may have just given up: then nobody listens.
            let _ = pending.sender.send(Resolution::EndpointNotFound);
        }
        count
    }
}

impl InboundHandler for EndpointRouter {
    fn deliver(&self, packet: Packet, from: &Peer) {
        let path = || ReplyPath::peer(from.clone());
        if let Some(packet) = self.shared.route(packet, path) {
            match &self.shared.fallback {
                Some(fallback) => fallback.deliver(packet, from),
                None => self.shared.not_found(packet, &path()),
            }
        }
    }
}

impl std::fmt::Debug for EndpointRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("EndpointRouter")
            .field("local", &self.shared.local)
            .field("endpoints", &state.endpoints.len())
            .field("pending", &state.pending.len())
            .finish_non_exhaustive()
    }
}
