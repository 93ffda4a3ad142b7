//! A peer: one remote address, as a `tower::Service` of outgoing packets.
//!
//! The model is FoundationDB's `Peer` (`fdbrpc/FlowTransport`): packets are
//! queued at once and a *connection keeper* task delivers them over a
//! connection it opens lazily, reconnects with jittered exponential backoff,
//! opens with a handshake, and watches with pings.
//!
//! - [`Delivery::Reliable`] packets are held and resent, in their original
//!   order, on every new connection until their [`ReliableHandle`] is
//!   cancelled: at-least-once, duplicates only across reconnects.
//! - [`Delivery::Unreliable`] packets are discarded when the connection they
//!   were queued for ends: at-most-once. [`SendReceipt::connection_failed`]
//!   tells whether that may have happened.
//! - `poll_ready` is `Pending` while the queue is full and never fails;
//!   `call` after it never drops a packet. A `call` without a reserved slot
//!   (how replies are sent: they never wait) is accepted within separate,
//!   smaller bounds, and refused beyond them.
//!
//! Peers are made by a [`Transport`](crate::transport::Transport).

mod config;
mod connection;
mod control;
mod error;
mod events;
mod handshake;
mod keeper;
mod metrics;
mod monitor;
mod outgoing;
mod queue;
mod shared;
mod wire;

use std::future::{Ready, poll_fn, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use moonpool_codec::NetworkAddress;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::PollSemaphore;

pub use config::PeerConfig;
pub use error::{ConnectionError, FailureCause, HandshakeError, PeerError, PeerGone};
pub use events::{ConnectionEpoch, ConnectionEvents};
pub use handshake::{
    COMPATIBLE_VERSION_MASK, HANDSHAKE_TOKEN, HANDSHAKE_TOKEN_INDEX, PROTOCOL_VERSION,
    versions_compatible,
};
pub use metrics::{FailureCounts, PeerMetrics, PeerState};
pub use outgoing::{Delivery, Outgoing, ReliableHandle, SendReceipt};

pub(crate) use connection::{Established, Origin};
pub(crate) use handshake::Handshake;
pub(crate) use keeper::spawn_keeper;
pub(crate) use shared::{PeerShared, lock};
pub(crate) use wire::Wire;

/// A handle to the peer of one remote address.
///
/// `Peer` is a `tower::Service<Outgoing, Response = SendReceipt, Error =
/// PeerError>`, cheap to clone. Tower semantics: a queue slot reserved by
/// `poll_ready` belongs to that handle until its next `call` (clones do not
/// share it). `poll_ready` waits while [`PeerConfig::queue_capacity`]
/// packets wait to be written and never returns an error; `call` fails only
/// for a closed peer or an oversize packet. A `call` without a reserved slot
/// (how [`ReplyPath`](crate::endpoint::ReplyPath) sends replies, which
/// never wait) is accepted beyond that bound, but only while fewer than
/// [`PeerConfig::unreserved_capacity`] such packets, of at most
/// [`PeerConfig::unreserved_bytes`] bytes, wait; beyond, it fails with
/// [`PeerError::Overloaded`] and the packet is dropped.
///
/// ```no_run
/// use moonpool_codec::{Packet, Uid};
/// use moonpool_tower::peer::Outgoing;
/// use moonpool_tower::transport::Transport;
/// use tower::ServiceExt;
///
/// # async fn run(transport: Transport) -> Result<(), moonpool_tower::peer::PeerError> {
/// let peer = transport.peer("10.0.0.1:4500".parse().unwrap());
/// let receipt = peer
///     .oneshot(Outgoing::reliable(Packet::new(Uid::new(1, 2), &b"hi"[..])))
///     .await?;
/// // The reply acknowledges the request; until then it is resent on reconnects.
/// receipt.reliable_handle().map(|handle| handle.cancel());
/// # Ok(())
/// # }
/// ```
pub struct Peer {
    shared: Arc<PeerShared>,
    semaphore: PollSemaphore,
    permit: Option<OwnedSemaphorePermit>,
    counted: bool,
}

impl Peer {
    /// A user's handle: it keeps the peer from being closed for idleness.
    pub(crate) fn new(shared: Arc<PeerShared>) -> Self {
        shared.user_added();
        Self::handle(shared, true)
    }

    /// The keeper's own handle, passed to the inbound handler: it does not
    /// count as a user (clones of it do).
    pub(crate) fn internal(shared: Arc<PeerShared>) -> Self {
        Self::handle(shared, false)
    }

    fn handle(shared: Arc<PeerShared>, counted: bool) -> Self {
        let semaphore = PollSemaphore::new(shared.semaphore.clone());
        Self {
            shared,
            semaphore,
            permit: None,
            counted,
        }
    }

    /// The remote address, `None` for an anonymous peer (a client that
    /// connected to us without a listening address).
    pub fn address(&self) -> Option<NetworkAddress> {
        self.shared.address
    }

    /// A snapshot of the peer's counters.
    pub fn metrics(&self) -> PeerMetrics {
        self.shared.metrics()
    }

    /// The peer's connection history, updated on every connection
    /// established, every failure and every change of state. Waiting on it
    /// is deterministic (see [`ConnectionEvents`]). See [`SendReceipt`] for
    /// how a sender learns that the connection its packet went out on has
    /// failed.
    pub fn connection_events(&self) -> ConnectionEvents {
        self.shared.events.subscribe()
    }

    /// Why the last connection (or attempt) ended, if one did.
    pub fn last_error(&self) -> Option<Arc<ConnectionError>> {
        self.shared.last_error()
    }

    /// Whether the peer is shut down.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Closes the peer's current connection, if one is open; the peer
    /// itself stays open.
    ///
    /// The stream is shut down for writing (FIN) and dropped. The
    /// connection ends like any other, with
    /// [`ConnectionError::ClosedLocally`]: reliable packets queued or in
    /// flight are kept and resent, in order, on the next connection;
    /// unreliable ones are discarded (their receipts report it). The next
    /// connection is dialed without a reconnection delay as soon as there
    /// is something to send, which is at once if reliable packets are
    /// held. Closing an anonymous peer's connection (a client that
    /// connected to us) closes the peer: it cannot be dialed back.
    ///
    /// The request applies to the connection open when it is made; with
    /// none open it does nothing. It takes effect asynchronously: watch
    /// [`connection_events`](Self::connection_events) to see it.
    pub fn close_connection(&self) {
        self.shared.control.request_close();
    }

    /// Closes the current connection, if one is open, as
    /// [`close_connection`](Self::close_connection) does, and dials a new
    /// one at once, whether or not anything is queued and even during a
    /// reconnection delay. Reliable packets are resent on the new
    /// connection. A request made while a connection is being opened is
    /// satisfied by that connection. For an anonymous peer it is
    /// `close_connection`.
    pub fn reconnect(&self) {
        self.shared.control.request_close();
        self.shared.control.request_reconnect();
    }

    /// Waits for a queue slot, then queues `outgoing`: `ready` then `call`.
    pub async fn send(&mut self, outgoing: Outgoing) -> Result<SendReceipt, PeerError> {
        poll_fn(|cx| tower::Service::poll_ready(self, cx)).await?;
        tower::Service::call(self, outgoing).await
    }

    /// Whether two handles are handles of the same peer.
    pub fn same_peer(&self, other: &Peer) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A number that differs between peers alive at the same time (equal
    /// for handles of the same peer): for counting per-peer shares.
    pub(crate) fn identity(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }
}

impl tower::Service<Outgoing> for Peer {
    type Response = SendReceipt;
    type Error = PeerError;
    type Future = Ready<Result<SendReceipt, PeerError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PeerError>> {
        if self.permit.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.semaphore.poll_acquire(cx) {
            Poll::Ready(Some(permit)) => {
                self.permit = Some(permit);
                Poll::Ready(Ok(()))
            }
            // Closed: ready, so that `call` reports `PeerError::Closed`.
            Poll::Ready(None) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, outgoing: Outgoing) -> Self::Future {
        let permit = self.permit.take();
        ready(self.shared.enqueue(&self.shared, outgoing, permit))
    }
}

impl Clone for Peer {
    fn clone(&self) -> Self {
        Self::new(self.shared.clone())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.counted {
            self.shared.user_removed();
        }
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("address", &self.shared.address)
            .field("state", &self.shared.metrics.state())
            .finish_non_exhaustive()
    }
}
