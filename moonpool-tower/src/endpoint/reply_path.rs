//! Where the replies to a received packet go.

use std::fmt;
use std::sync::Weak;

use moonpool_codec::{NetworkAddress, Packet};
use tracing::trace;

use super::router::RouterShared;
use super::share::Caller;
use crate::peer::{Outgoing, Peer};

/// The way back to whoever sent a packet: the [`Peer`] it arrived through
/// (so a reply travels back on a connection to the same remote, for a
/// client without a listener the very connection the request came in on),
/// or, for a packet delivered locally, this node's own router.
///
/// Replies are sent unreliably, as FoundationDB's: at most once, never
/// resent, lost with the connection (a reliable request is resent by its
/// client, which then gets the reply of the resent copy). Sending never
/// waits: a reply bypasses the peer's queue bound and takes one of the
/// places for packets sent without a slot
/// ([`PeerConfig::unreserved_capacity`](crate::peer::PeerConfig::unreserved_capacity)
/// and `unreserved_bytes`); when those are full (a remote that does not
/// read), the reply is dropped and counted in
/// [`PeerMetrics::unreserved_refused`](crate::peer::PeerMetrics::unreserved_refused).
#[derive(Clone)]
pub struct ReplyPath {
    route: Route,
}

#[derive(Clone)]
enum Route {
    Peer(Peer),
    Local(Weak<RouterShared>),
}

impl ReplyPath {
    /// Replies through `peer`.
    pub fn peer(peer: Peer) -> Self {
        Self {
            route: Route::Peer(peer),
        }
    }

    pub(crate) fn local(router: Weak<RouterShared>) -> Self {
        Self {
            route: Route::Local(router),
        }
    }

    /// The address of the node the packet came from: the remote's listening
    /// address (`None` for an anonymous client), or this node's own address
    /// for a local delivery.
    pub fn address(&self) -> Option<NetworkAddress> {
        match &self.route {
            Route::Peer(peer) => peer.address(),
            Route::Local(router) => router.upgrade().and_then(|router| router.local_address()),
        }
    }

    /// Who sent the packet, for per-caller shares: its peer, or this node.
    pub(crate) fn caller(&self) -> Caller {
        match &self.route {
            Route::Peer(peer) => Caller(peer.identity()),
            // No peer's identity is 0: it is the address of a live `Arc`.
            Route::Local(_) => Caller(0),
        }
    }

    /// Whether this is the path of a packet delivered locally (no socket).
    pub fn is_local(&self) -> bool {
        matches!(self.route, Route::Local(_))
    }

    /// Sends `packet` back, unreliably. Never waits; a packet for a closed
    /// or overloaded peer, or a router that is gone, is dropped (logged at
    /// `trace`).
    pub fn send(&self, packet: Packet) {
        self.clone().send_owned(packet);
    }

    /// [`send`](Self::send), consuming the path (saves a handle clone).
    pub fn send_owned(self, packet: Packet) {
        match self.route {
            Route::Peer(mut peer) => {
                let token = packet.token;
                // No `poll_ready`: a reply does not wait for a queue slot
                // (the peer accepts a packet without one).
                let sent = tower::Service::call(&mut peer, Outgoing::unreliable(packet));
                if let Err(error) = sent.into_inner() {
                    trace!(%token, %error, "reply not sent");
                }
            }
            Route::Local(router) => match router.upgrade() {
                Some(shared) => {
                    let path = Self::local(router);
                    shared.deliver(packet, path);
                }
                None => trace!(token = %packet.token, "router gone; local reply dropped"),
            },
        }
    }
}

impl fmt::Debug for ReplyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.route {
            Route::Peer(peer) => f.debug_tuple("ReplyPath::Peer").field(peer).finish(),
            Route::Local(_) => f.write_str("ReplyPath::Local"),
        }
    }
}
