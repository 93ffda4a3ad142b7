//! The limits on incoming connections: how many may be in their handshake
//! at once, and how many anonymous peers may exist at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use super::AcceptConfig;

/// A snapshot of a transport's incoming-connection counters
/// ([`Transport::accept_metrics`](super::Transport::accept_metrics)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptMetrics {
    /// Connections taken from the accept stream.
    pub accepted: u64,
    /// Connections closed before their handshake because
    /// [`AcceptConfig::max_handshaking`] others were in theirs.
    pub refused_handshaking: u64,
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

/// The two limits and their counters.
pub(crate) struct Admission {
    handshaking: Arc<Semaphore>,
    max_handshaking: usize,
    anonymous: Arc<Semaphore>,
    max_anonymous: usize,
    accepted: AtomicU64,
    refused_handshaking: AtomicU64,
    refused_anonymous: AtomicU64,
}

impl Admission {
    /// Limits as configured (validated: they fit a semaphore).
    pub(crate) fn new(config: &AcceptConfig) -> Self {
        let max_handshaking = config.max_handshaking.max(1);
        let max_anonymous = config.max_anonymous_peers.max(1);
        Self {
            handshaking: Arc::new(Semaphore::new(max_handshaking)),
            max_handshaking,
            anonymous: Arc::new(Semaphore::new(max_anonymous)),
            max_anonymous,
            accepted: AtomicU64::new(0),
            refused_handshaking: AtomicU64::new(0),
            refused_anonymous: AtomicU64::new(0),
        }
    }

    /// A place for the handshake of a connection just accepted from `from`,
    /// or `None` (counted and logged) if every place is taken: the caller
    /// closes the connection.
    pub(crate) fn handshake(&self, from: SocketAddr) -> Option<Slot> {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let slot = self.handshaking.clone().try_acquire_owned().ok();
        if slot.is_none() {
            let refused = self.refused_handshaking.fetch_add(1, Ordering::Relaxed) + 1;
            log_refusal(
                refused,
                from,
                "too many incoming handshakes at once; closing a new connection",
            );
        }
        slot
    }

    /// A place for a new anonymous peer whose connection came from `from`,
    /// or `None` (counted and logged): the caller closes the connection.
    pub(crate) fn anonymous_peer(&self, from: SocketAddr) -> Option<Slot> {
        let slot = self.anonymous.clone().try_acquire_owned().ok();
        if slot.is_none() {
            let refused = self.refused_anonymous.fetch_add(1, Ordering::Relaxed) + 1;
            log_refusal(
                refused,
                from,
                "too many anonymous peers; closing a new client connection",
            );
        }
        slot
    }

    pub(crate) fn metrics(&self) -> AcceptMetrics {
        let in_use =
            |semaphore: &Semaphore, max: usize| max.saturating_sub(semaphore.available_permits());
        AcceptMetrics {
            accepted: self.accepted.load(Ordering::Relaxed),
            refused_handshaking: self.refused_handshaking.load(Ordering::Relaxed),
            refused_anonymous: self.refused_anonymous.load(Ordering::Relaxed),
            handshaking: in_use(&self.handshaking, self.max_handshaking) as u64,
            anonymous_peers: in_use(&self.anonymous, self.max_anonymous) as u64,
        }
    }
}

/// A refusal is something an operator must act on (a flood, or a limit too
/// low), but a flood must not flood the log too: `warn` at the 1st, 2nd,
/// 4th, 8th... refusal, `debug` otherwise.
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
    fn places_are_refused_beyond_the_limit_and_given_back_when_released() {
        let admission = Admission::new(&AcceptConfig {
            max_handshaking: 2,
            max_anonymous_peers: 1,
            ..AcceptConfig::default()
        });
        let first = admission.handshake(from()).unwrap();
        let _second = admission.handshake(from()).unwrap();
        assert!(admission.handshake(from()).is_none());
        let anonymous = admission.anonymous_peer(from()).unwrap();
        assert!(admission.anonymous_peer(from()).is_none());
        assert_eq!(
            admission.metrics(),
            AcceptMetrics {
                accepted: 3,
                refused_handshaking: 1,
                refused_anonymous: 1,
                handshaking: 2,
                anonymous_peers: 1,
            }
        );
        drop((first, anonymous));
        assert!(admission.handshake(from()).is_some());
        assert!(admission.anonymous_peer(from()).is_some());
    }
}
