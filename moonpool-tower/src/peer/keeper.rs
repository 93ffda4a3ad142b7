//! The connection keeper: one task per peer that opens, watches, replaces
//! and reopens its connection (FoundationDB's `connectionKeeper`).

use std::sync::Arc;
use std::time::Duration;

use moonpool_codec::NetworkAddress;
use rand::Rng;
use rand::rngs::StdRng;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tower::{Service, ServiceExt};
use tracing::{Instrument, debug, debug_span, warn};

use super::connection::{self, Established, Origin, incoming_wins};
use super::error::{ConnectionError, HandshakeError};
use super::handshake::Handshake;
use super::metrics::PeerState;
use super::shared::PeerShared;
use super::wire::Wire;
use super::{Peer, PeerConfig};
use crate::backoff::JitteredBackoffSession;
use crate::transport::NodeContext;

/// Starts the keeper of `shared` through the node's executor. `first` is an
/// incoming connection to serve at once (an anonymous peer's only one);
/// `admission`, the place the peer takes among the node's anonymous peers,
/// is held until the keeper ends. Returns whether it was started (not after
/// shutdown).
pub(crate) fn spawn_keeper(
    ctx: &Arc<NodeContext>,
    shared: Arc<PeerShared>,
    first: Option<Established>,
    admission: Option<OwnedSemaphorePermit>,
) -> bool {
    let span = debug_span!("peer", address = ?shared.address);
    let keeper = Keeper {
        ctx: ctx.clone(),
        handle: Peer::internal(shared.clone()),
        shared,
        rng: ctx.fork_rng(),
        backoff: ctx.backoff.session(),
        delay_next_attempt: false,
        _admission: admission,
    };
    ctx.spawn(keeper.run(first).instrument(span))
}

struct Keeper {
    ctx: Arc<NodeContext>,
    shared: Arc<PeerShared>,
    /// Passed to the inbound handler; not counted as a user.
    handle: Peer,
    rng: StdRng,
    /// The reconnection schedule, restarted by a healthy connection.
    backoff: JitteredBackoffSession,
    /// Whether the next attempt waits a reconnection delay first.
    delay_next_attempt: bool,
    _admission: Option<OwnedSemaphorePermit>,
}

enum Wake {
    Shutdown,
    Idle,
    Work,
    Attached(Established),
}

enum Attempt {
    Connected(Established),
    Failed,
    Shutdown,
}

impl Keeper {
    fn config(&self) -> &PeerConfig {
        &self.ctx.config.peer
    }

    async fn run(mut self, first: Option<Established>) {
        let mut next = first;
        loop {
            let connection = match next.take() {
                Some(connection) => connection,
                None => match self.wait().await {
                    Wake::Shutdown => break,
                    Wake::Idle if self.ctx.forget(&self.shared) => break,
                    Wake::Idle => continue,
                    Wake::Attached(connection) => connection,
                    // An anonymous peer cannot dial its client back.
                    Wake::Work => match self.shared.address {
                        None => break,
                        Some(address) => match self.connect(address).await {
                            Attempt::Connected(connection) => connection,
                            Attempt::Failed => continue,
                            Attempt::Shutdown => break,
                        },
                    },
                },
            };
            let started = Instant::now();
            let (error, replacement) =
                connection::run(&self.ctx, &self.shared, &self.handle, connection).await;
            if started.elapsed() >= self.config().reconnect_reset_after {
                self.backoff.reset();
            }
            let (shutdown, idle) = (
                matches!(error, ConnectionError::Shutdown),
                matches!(error, ConnectionError::Idle),
            );
            // A connection the user closed did not fail: no backoff.
            let closed_locally = matches!(error, ConnectionError::ClosedLocally);
            self.delay_next_attempt =
                !shutdown && !idle && !closed_locally && replacement.is_none();
            self.record_end(error);
            if shutdown
                || (idle && self.ctx.forget(&self.shared))
                || (self.shared.address.is_none() && replacement.is_none())
            {
                break;
            }
            next = replacement;
        }
        // Out of the map first, so that `Transport::peer` never hands out a
        // peer that is about to close.
        self.ctx.remove(&self.shared);
        self.shared.close();
        debug!("peer closed");
    }

    /// Waits for a reason to act.
    async fn wait(&mut self) -> Wake {
        let shared = self.shared.clone();
        let idle_timeout = self.config().idle_timeout;
        let work = async {
            while !shared.with_queue(|queue| queue.has_unsent()) {
                shared.work.notified().await;
            }
        };
        // An anonymous peer cannot dial: a reconnect request is no work.
        let reconnect = async {
            match shared.address {
                Some(_) => shared.control.reconnect_requested().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = self.ctx.shutdown.cancelled() => Wake::Shutdown,
            connection = next_attached(&shared) => Wake::Attached(connection),
            () = work => Wake::Work,
            () = reconnect => Wake::Work,
            () = idle_expired(&shared, idle_timeout) => Wake::Idle,
        }
    }

    /// Opens a connection to `address`, after the reconnection delay if the
    /// last one failed. An incoming connection from the same remote may be
    /// adopted instead (see [`incoming_wins`]).
    async fn connect(&mut self, address: NetworkAddress) -> Attempt {
        if self.delay_next_attempt {
            let delay = self.backoff.next_delay();
            self.shared.set_state(PeerState::Backoff);
            debug!(?delay, "waiting before reconnecting");
            tokio::select! {
                biased;
                () = self.ctx.shutdown.cancelled() => return Attempt::Shutdown,
                connection = next_attached(&self.shared) => return Attempt::Connected(connection),
                () = self.shared.control.reconnect_requested() => {
                    debug!("reconnecting now at a local request");
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.shared.control.clear_reconnect();
        self.shared.set_state(PeerState::Connecting);
        let connection_id = self.rng.next_u64();
        let attempt = open(self.ctx.clone(), address, connection_id);
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                biased;
                () = self.ctx.shutdown.cancelled() => return Attempt::Shutdown,
                incoming = next_attached(&self.shared) => {
                    if incoming_wins(Origin::Outgoing, self.ctx.local, incoming.remote.listen) {
                        debug!(connection_id, "adopting an incoming connection instead of dialing");
                        return Attempt::Connected(incoming);
                    }
                    debug!("simultaneous connect: our attempt wins, closing the incoming one");
                }
                result = &mut attempt => match result {
                    Ok(connection) => return Attempt::Connected(connection),
                    Err(error) => {
                        self.delay_next_attempt = true;
                        self.record_end(error);
                        return Attempt::Failed;
                    }
                },
            }
        }
    }

    /// Accounts for a connection or attempt that ended.
    fn record_end(&self, error: ConnectionError) {
        let next_state = if self.delay_next_attempt {
            PeerState::Backoff
        } else {
            PeerState::Idle
        };
        match &error {
            ConnectionError::Handshake(HandshakeError::IncompatibleVersion { .. }) => {
                if self
                    .shared
                    .incompatible_logged
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    debug!(%error, "connection failed");
                } else {
                    warn!(%error, "remote speaks an incompatible protocol; will keep retrying quietly");
                }
            }
            ConnectionError::Decode(_)
            | ConnectionError::UnexpectedHandshake
            | ConnectionError::FrameStalled { .. } => {
                warn!(%error, "closing a connection that sent undecodable bytes");
            }
            _ => debug!(%error, "connection ended"),
        }
        self.shared.connection_ended(error, next_state);
    }
}

/// Connects to `address` and runs our side of the handshake.
async fn open(
    ctx: Arc<NodeContext>,
    address: NetworkAddress,
    connection_id: u64,
) -> Result<Established, ConnectionError> {
    let config = &ctx.config.peer;
    let mut connector = ctx.connector();
    let connect = async {
        connector.ready().await?;
        connector.call(address.socket_addr()).await
    };
    let io = tokio::time::timeout(config.connect_timeout, connect)
        .await
        .map_err(|_| ConnectionError::ConnectTimeout {
            timeout: config.connect_timeout,
        })?
        .map_err(ConnectionError::Connect)?;
    let mut wire = Wire::new(io, config.max_frame_length);
    let ours = Handshake {
        version: config.protocol_version,
        connection_id,
        listen: ctx.local,
    };
    let remote = ours.exchange(&mut wire, config.handshake_timeout).await?;
    Ok(Established {
        wire,
        origin: Origin::Outgoing,
        local_id: connection_id,
        remote,
    })
}

/// Resolves with the next incoming connection handed to `shared`.
pub(super) async fn next_attached(shared: &PeerShared) -> Established {
    loop {
        if let Some(connection) = shared.take_attached() {
            return connection;
        }
        shared.attach_ready.notified().await;
    }
}

/// Resolves once the peer has had no user, nothing queued or held, and no
/// traffic for `timeout`.
pub(super) async fn idle_expired(shared: &PeerShared, timeout: Duration) {
    loop {
        if !shared.is_unused() {
            tokio::time::sleep(timeout).await;
            continue;
        }
        let deadline = shared.last_activity() + timeout;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}
