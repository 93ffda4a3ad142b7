//! What goes into a peer (an [`Outgoing`] packet) and what comes back
//! (a [`SendReceipt`]).

use std::future::Future;
use std::sync::Weak;

use moonpool_codec::Packet;

use super::PeerShared;
use super::events::ConnectionEvents;
use super::metrics::PeerState;

/// How hard a peer tries to deliver a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Kept and resent, in order, on every new connection until its
    /// [`ReliableHandle`] is cancelled: at-least-once, duplicates possible
    /// across reconnects.
    Reliable,
    /// Written at most once; discarded if the connection it was queued for
    /// ends first: at-most-once.
    Unreliable,
}

/// A packet for a [`Peer`](super::Peer), with its delivery guarantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The frame to send.
    pub packet: Packet,
    /// How hard to try.
    pub delivery: Delivery,
}

impl Outgoing {
    /// A packet sent at least once (see [`Delivery::Reliable`]).
    pub const fn reliable(packet: Packet) -> Self {
        Self {
            packet,
            delivery: Delivery::Reliable,
        }
    }

    /// A packet sent at most once (see [`Delivery::Unreliable`]).
    pub const fn unreliable(packet: Packet) -> Self {
        Self {
            packet,
            delivery: Delivery::Unreliable,
        }
    }
}

/// The answer of [`Peer::call`](super::Peer): the packet was accepted.
///
/// **Has the connection my packet went out on failed?** A receipt records
/// the peer's failure count at acceptance. Any failure after that concerns
/// the connection the packet was written to, or discards the packet before
/// it was written (an unreliable packet queued while disconnected, then the
/// attempt failed). So once the count has grown, an unreliable packet may or
/// may not have arrived and never will be sent again; a reliable one will be
/// resent. [`SendReceipt::connection_failed`] and
/// [`SendReceipt::connection_failure`] answer it; an RPC resolves an
/// unreliable request `MaybeDelivered` on it.
#[derive(Debug, Clone)]
pub struct SendReceipt {
    pub(crate) delivery: Delivery,
    pub(crate) failures_at_accept: u64,
    pub(crate) handle: Option<ReliableHandle>,
    pub(crate) events: ConnectionEvents,
}

impl SendReceipt {
    /// The packet's delivery guarantee.
    pub const fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// The cancel handle of a reliable packet (`None` for unreliable).
    pub const fn reliable_handle(&self) -> Option<&ReliableHandle> {
        self.handle.as_ref()
    }

    /// The cancel handle of a reliable packet, consuming the receipt.
    pub fn into_reliable_handle(self) -> Option<ReliableHandle> {
        self.handle
    }

    /// The peer's [`ConnectionEpoch::failures`](super::ConnectionEpoch::failures)
    /// when the packet was accepted.
    pub const fn failures_at_accept(&self) -> u64 {
        self.failures_at_accept
    }

    /// Whether a connection failure (or the peer's shutdown) has happened
    /// since the packet was accepted.
    pub fn connection_failed(&self) -> bool {
        let current = self.events.current();
        current.failures > self.failures_at_accept || current.state == PeerState::Closed
    }

    /// Resolves once [`SendReceipt::connection_failed`] is true, or the peer
    /// is gone. Owns what it needs, so it can be stored in a response
    /// future. Deterministic, as [`ConnectionEvents`] is.
    pub fn connection_failure(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut events = self.events.clone();
        let after = self.failures_at_accept;
        async move {
            // An error means the peer is gone: that is a failure too.
            let _ = events
                .wait_for(|epoch| epoch.failures > after || epoch.state == PeerState::Closed)
                .await;
        }
    }
}

/// Cancels the resending of one reliable packet.
///
/// FoundationDB semantics: the reply to a request is what acknowledges it,
/// so the RPC layer calls [`ReliableHandle::cancel`] when the reply arrives
/// or when its caller gives up. **Dropping the handle does not cancel**:
/// the packet stays held and is resent on every new connection until
/// `cancel` is called or the peer shuts down. Cloning gives another handle
/// to the same packet.
#[derive(Debug, Clone)]
pub struct ReliableHandle {
    pub(crate) peer: Weak<PeerShared>,
    pub(crate) seq: u64,
}

impl ReliableHandle {
    /// Stops resending the packet and drops it from the queue if it has not
    /// been written yet. Idempotent; a no-op once the peer is gone.
    pub fn cancel(&self) {
        if let Some(peer) = self.peer.upgrade() {
            peer.cancel(self.seq);
        }
    }

    /// Whether the packet is still held for (re)sending.
    pub fn is_pending(&self) -> bool {
        self.peer
            .upgrade()
            .is_some_and(|peer| peer.is_reliable_pending(self.seq))
    }
}
