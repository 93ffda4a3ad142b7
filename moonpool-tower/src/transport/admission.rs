//! The limits on incoming connections: how many may be in their handshake
//! at once (in total and per source, the oldest evicted for a newcomer), and
//! how many anonymous peers may exist at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use super::AcceptConfig;
use super::handshakes::{Eviction, HandshakeSlot, Handshakes};

/// A snapshot of a transport's incoming-connection counters
/// ([`Transport::accept_metrics`](super::Transport::accept_metrics)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptMetrics {
    /// Connections taken from the accept stream.
    pub accepted: u64,
    /// Unfinished handshakes closed to make room for a new connection
    /// because [`AcceptConfig::max_handshaking`] were under way (the
    /// oldest of all was closed).
    pub evicted_handshaking: u64,
    /// Unfinished handshakes closed to make room for a new connection from
    /// the same source, which already held
    /// [`AcceptConfig::max_handshaking_per_source`] (its oldest was
    /// closed).
    pub evicted_same_source: u64,
    /// Handshakes that did not complete within the handshake deadline
    /// ([`PeerConfig::handshake_timeout`](crate::peer::PeerConfig::handshake_timeout)).
    pub handshake_timeouts: u64,
    /// Connections closed after their handshake because they announced no
    /// address and [`AcceptConfig::max_anonymous_peers`] anonymous peers
    /// existed.
    pub refused_anonymous: u64,
    /// Connections in their handshake now.
    pub handshaking: u64,
    /// Anonymous peers now.
    pub anonymous_peers: u64,
}

/// One of the limited places; held for as long as it is used.
pub(crate) type Slot = OwnedSemaphorePermit;

/// One limited kind of place: a semaphore of `max` permits, and how many
/// requests for one were refused.
struct Limit {
    places: Arc<Semaphore>,
    max: usize,
    refused: AtomicU64,
    /// What a refusal does, for the log.
    refusal: &'static str,
}

impl Limit {
    /// `max` places (at least one; validated to fit a semaphore).
    fn new(max: usize, refusal: &'static str) -> Self {
        let max = max.max(1);
        Self {
            places: Arc::new(Semaphore::new(max)),
            max,
            refused: AtomicU64::new(0),
            refusal,
        }
    }

    /// A place for a connection from `from`, or `None` (counted and logged)
    /// if every place is taken: the caller closes the connection.
    fn take(&self, from: SocketAddr) -> Option<Slot> {
        let slot = self.places.clone().try_acquire_owned().ok();
        if slot.is_none() {
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            log_refusal(refused, from, self.refusal);
        }
        slot
    }

    fn in_use(&self) -> u64 {
        self.max.saturating_sub(self.places.available_permits()) as u64
    }

    fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// The two limits and their counters.
pub(crate) struct Admission {
    handshaking: Handshakes,
    anonymous: Limit,
    accepted: AtomicU64,
    evicted_handshaking: AtomicU64,
    evicted_same_source: AtomicU64,
    handshake_timeouts: AtomicU64,
}

impl Admission {
    /// Limits as configured (validated: they fit a semaphore).
    pub(crate) fn new(config: &AcceptConfig) -> Self {
        Self {
            handshaking: Handshakes::new(config.max_handshaking, config.max_handshaking_per_source),
            anonymous: Limit::new(
                config.max_anonymous_peers,
                "too many anonymous peers; closing a new client connection",
            ),
            accepted: AtomicU64::new(0),
            evicted_handshaking: AtomicU64::new(0),
            evicted_same_source: AtomicU64::new(0),
            handshake_timeouts: AtomicU64::new(0),
        }
    }

    /// A place for the handshake of a connection just accepted from `from`:
    /// always given, by evicting (counted and logged) the oldest unfinished
    /// handshake of the same source if it holds its whole share, else the
    /// oldest of all if every place is taken.
    pub(crate) fn handshake(&self, from: SocketAddr) -> HandshakeSlot {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let (slot, eviction) = self.handshaking.admit(from);
        match eviction {
            None => {}
            Some(Eviction::Oldest) => {
                let evicted = self.evicted_handshaking.fetch_add(1, Ordering::Relaxed) + 1;
                log_refusal(
                    evicted,
                    from,
                    "too many incoming handshakes at once; closed the oldest for a new connection",
                );
            }
            Some(Eviction::SameSource) => {
                let evicted = self.evicted_same_source.fetch_add(1, Ordering::Relaxed) + 1;
                log_refusal(
                    evicted,
                    from,
                    "too many incoming handshakes from one source; closed its oldest",
                );
            }
        }
        slot
    }

    /// Counts a handshake that missed its deadline.
    pub(crate) fn handshake_timed_out(&self) {
        self.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// A place for a new anonymous peer whose connection came from `from`,
    /// or `None` (counted and logged): the caller closes the connection.
    pub(crate) fn anonymous_peer(&self, from: SocketAddr) -> Option<Slot> {
        self.anonymous.take(from)
    }

    pub(crate) fn metrics(&self) -> AcceptMetrics {
        AcceptMetrics {
            accepted: self.accepted.load(Ordering::Relaxed),
            evicted_handshaking: self.evicted_handshaking.load(Ordering::Relaxed),
            evicted_same_source: self.evicted_same_source.load(Ordering::Relaxed),
            handshake_timeouts: self.handshake_timeouts.load(Ordering::Relaxed),
            refused_anonymous: self.anonymous.refused(),
            handshaking: self.handshaking.in_use(),
            anonymous_peers: self.anonymous.in_use(),
        }
    }
}

/// A refusal or eviction is something an operator must act on (a flood, or
/// a limit too low), but a flood must not flood the log too: `warn` at the
/// 1st, 2nd, 4th, 8th... one, `debug` otherwise.
fn log_refusal(refused: u64, from: SocketAddr, what: &str) {
    if refused.is_power_of_two() {
        warn!(%from, refused, "{what}");
    } else {
        debug!(%from, refused, "{what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> SocketAddr {
        "10.0.0.9:1".parse().unwrap()
    }

    #[test]
    fn evictions_refusals_and_places_in_use_are_counted() {
        let admission = Admission::new(&AcceptConfig {
            max_handshaking: 2,
            max_handshaking_per_source: 2,
            max_anonymous_peers: 1,
            ..AcceptConfig::default()
        });
        let other: SocketAddr = "10.0.0.8:1".parse().unwrap();
        let _first = admission.handshake(other);
        let _second = admission.handshake(from());
        let _third = admission.handshake(from());
        let _fourth = admission.handshake(from());
        admission.handshake_timed_out();
        let anonymous = admission.anonymous_peer(from()).unwrap();
        assert!(admission.anonymous_peer(from()).is_none());
        assert_eq!(
            admission.metrics(),
            AcceptMetrics {
                accepted: 4,
                evicted_handshaking: 1,
                evicted_same_source: 1,
                handshake_timeouts: 1,
                refused_anonymous: 1,
                handshaking: 2,
                anonymous_peers: 1,
            }
        );
        drop(anonymous);
        assert!(admission.anonymous_peer(from()).is_some());
    }
}
