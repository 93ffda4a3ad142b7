//! A peer's connection history ([`ConnectionEpoch`]) and the deterministic
//! signal that publishes it ([`ConnectionEvents`]).
//!
//! Not a `tokio::sync::watch`: a watch registers each waiter on one of
//! several lists chosen by tokio's thread RNG, so which of several waiters
//! wakes first is a random draw, and a simulation seed would not replay.
//! Here every waiter waits on one `tokio::sync::Notify`, which draws no
//! random numbers.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::error::PeerGone;
use super::metrics::PeerState;
use super::shared::lock;

/// The connection history of a peer, published through
/// [`Peer::connection_events`](super::Peer::connection_events).
///
/// Both counters only grow. `failures` counts every connection that ended
/// and every attempt that failed: each such event discards the unreliable
/// packets still queued and re-queues the reliable ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionEpoch {
    /// Connections established so far.
    pub connections: u64,
    /// Connections ended and attempts failed so far.
    pub failures: u64,
    /// The peer's state as of the last change.
    pub state: PeerState,
}

/// A subscription to a peer's [`ConnectionEpoch`]: the latest value, and a
/// wait for the next one. The deterministic counterpart of a
/// `tokio::sync::watch::Receiver<ConnectionEpoch>`.
///
/// **Deterministic.** Waiting draws no random number (a `watch` does: it
/// picks a wait list with tokio's thread RNG), so tasks woken by the same
/// change are woken in an order fixed by the order they started waiting,
/// and a simulation seed replays exactly.
///
/// Each subscription remembers the last value it has seen: a fresh one has
/// seen the value current when it was made; [`changed`](Self::changed) and
/// [`wait_for`](Self::wait_for) mark what they return as seen. A clone
/// starts from what the original has seen. Values published in quick
/// succession may be seen only as the latest of them, as with a `watch`.
///
/// ```no_run
/// use moonpool_tower::peer::{Peer, PeerState};
///
/// # async fn run(peer: Peer) -> Result<(), moonpool_tower::peer::PeerGone> {
/// let mut events = peer.connection_events();
/// let connected = events.wait_for(|epoch| epoch.state == PeerState::Connected).await?;
/// assert!(connected.connections >= 1);
/// while let Ok(epoch) = events.changed().await {
///     println!("{} connections, {} failures", epoch.connections, epoch.failures);
///     if epoch.state == PeerState::Closed {
///         break;
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ConnectionEvents {
    signal: Arc<Signal>,
    /// The version of the last value this subscription has seen.
    seen: u64,
}

/// What a peer and its subscriptions share.
struct Signal {
    latest: Mutex<Latest>,
    /// Woken (every waiter, in the order they started waiting) on each
    /// publication and when the publisher goes.
    changed: Notify,
}

struct Latest {
    epoch: ConnectionEpoch,
    /// Counts publications: a subscription has seen a value if it has seen
    /// its version.
    version: u64,
    /// The publisher (the peer) is gone: no value will follow.
    gone: bool,
}

impl ConnectionEvents {
    /// The latest value (not marked as seen).
    pub fn current(&self) -> ConnectionEpoch {
        lock(&self.signal.latest).epoch
    }

    /// Waits for a value this subscription has not seen (returned at once
    /// if there is one already), marks it seen and returns it. Fails once
    /// the peer is gone and every value was seen.
    pub async fn changed(&mut self) -> Result<ConnectionEpoch, PeerGone> {
        let seen = self.seen;
        self.wait(|version, _| version != seen).await
    }

    /// Waits until `ready` holds for the latest value (at once if it holds
    /// now), marks that value seen and returns it. Fails if the peer is
    /// gone and the last value does not satisfy `ready`.
    pub async fn wait_for(
        &mut self,
        mut ready: impl FnMut(&ConnectionEpoch) -> bool,
    ) -> Result<ConnectionEpoch, PeerGone> {
        self.wait(|_, epoch| ready(epoch)).await
    }

    async fn wait(
        &mut self,
        mut ready: impl FnMut(u64, &ConnectionEpoch) -> bool,
    ) -> Result<ConnectionEpoch, PeerGone> {
        loop {
            // Made before the value is read: a publication between the read
            // and the wait still wakes it (`notify_waiters` counts every
            // `Notified` made before it).
            let notified = self.signal.changed.notified();
            let (epoch, version, gone) = {
                let latest = lock(&self.signal.latest);
                (latest.epoch, latest.version, latest.gone)
            };
            if ready(version, &epoch) {
                self.seen = version;
                return Ok(epoch);
            }
            if gone {
                return Err(PeerGone);
            }
            notified.await;
        }
    }
}

impl std::fmt::Debug for ConnectionEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let latest = lock(&self.signal.latest);
        f.debug_struct("ConnectionEvents")
            .field("current", &latest.epoch)
            .field("unseen", &(latest.version != self.seen))
            .field("gone", &latest.gone)
            .finish()
    }
}

/// The peer's side: publishes each change to every [`ConnectionEvents`].
/// Dropping it tells them the peer is gone.
pub(crate) struct EpochPublisher {
    signal: Arc<Signal>,
}

impl EpochPublisher {
    pub(crate) fn new() -> Self {
        Self {
            signal: Arc::new(Signal {
                latest: Mutex::new(Latest {
                    epoch: ConnectionEpoch::default(),
                    version: 0,
                    gone: false,
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// A subscription that has seen the current value.
    pub(crate) fn subscribe(&self) -> ConnectionEvents {
        ConnectionEvents {
            seen: lock(&self.signal.latest).version,
            signal: self.signal.clone(),
        }
    }

    pub(crate) fn current(&self) -> ConnectionEpoch {
        lock(&self.signal.latest).epoch
    }

    /// Changes the value and publishes it.
    pub(crate) fn publish(&self, change: impl FnOnce(&mut ConnectionEpoch)) {
        self.publish_if(|epoch| {
            change(epoch);
            true
        });
    }

    /// Changes the value, and publishes it if `change` says it changed.
    pub(crate) fn publish_if(&self, change: impl FnOnce(&mut ConnectionEpoch) -> bool) {
        let changed = {
            let mut latest = lock(&self.signal.latest);
            let changed = change(&mut latest.epoch);
            if changed {
                latest.version += 1;
            }
            changed
        };
        if changed {
            self.signal.changed.notify_waiters();
        }
    }
}

impl Drop for EpochPublisher {
    fn drop(&mut self) {
        lock(&self.signal.latest).gone = true;
        self.signal.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Lets every spawned task run until it waits.
    async fn settle() {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_fresh_subscription_has_seen_the_current_value() {
        let publisher = EpochPublisher::new();
        publisher.publish(|epoch| epoch.connections = 1);
        let mut events = publisher.subscribe();
        assert_eq!(events.current().connections, 1);
        let pending = tokio::time::timeout(std::time::Duration::from_millis(10), events.changed());
        assert!(pending.await.is_err(), "nothing new to see");
    }

    #[tokio::test]
    async fn changed_returns_each_unseen_value_once() {
        let publisher = EpochPublisher::new();
        let mut events = publisher.subscribe();
        publisher.publish(|epoch| epoch.failures = 1);
        assert_eq!(events.changed().await.map(|e| e.failures), Ok(1));
        publisher.publish(|epoch| epoch.failures = 2);
        publisher.publish(|epoch| epoch.failures = 3);
        assert_eq!(events.changed().await.map(|e| e.failures), Ok(3));
        let pending = tokio::time::timeout(std::time::Duration::from_millis(10), events.changed());
        assert!(pending.await.is_err(), "everything was seen");
    }

    #[tokio::test]
    async fn an_unchanged_value_is_not_published() {
        let publisher = EpochPublisher::new();
        let mut events = publisher.subscribe();
        publisher.publish_if(|_| false);
        let pending = tokio::time::timeout(std::time::Duration::from_millis(10), events.changed());
        assert!(pending.await.is_err());
    }

    #[tokio::test]
    async fn wait_for_wakes_when_the_condition_first_holds() {
        let publisher = EpochPublisher::new();
        let mut events = publisher.subscribe();
        let waiter = tokio::spawn(async move { events.wait_for(|e| e.failures >= 2).await });
        settle().await;
        publisher.publish(|epoch| epoch.failures = 1);
        settle().await;
        assert!(!waiter.is_finished());
        publisher.publish(|epoch| epoch.failures = 2);
        assert_eq!(waiter.await.unwrap().map(|e| e.failures), Ok(2));
    }

    #[tokio::test]
    async fn waiters_learn_that_the_peer_is_gone() {
        let publisher = EpochPublisher::new();
        let mut waiting = publisher.subscribe();
        let mut satisfied = publisher.subscribe();
        let waiter = tokio::spawn(async move { waiting.changed().await });
        settle().await;
        publisher.publish(|epoch| epoch.connections = 1);
        drop(publisher);
        assert_eq!(waiter.await.unwrap().map(|e| e.connections), Ok(1));
        assert_eq!(
            satisfied
                .wait_for(|e| e.connections == 1)
                .await
                .map(|e| e.connections),
            Ok(1),
            "a condition that holds still answers"
        );
        assert_eq!(satisfied.changed().await, Err(PeerGone));
        assert_eq!(satisfied.wait_for(|e| e.failures > 0).await, Err(PeerGone));
    }

    /// The property a `watch` lacks: with a `watch`, each waiter sits on one
    /// of eight lists picked by tokio's thread RNG, and this order varies.
    #[tokio::test]
    async fn waiters_wake_in_the_order_they_started_waiting() {
        const WAITERS: usize = 32;
        let publisher = EpochPublisher::new();
        let woken = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..WAITERS {
            let mut events = publisher.subscribe();
            let woken = woken.clone();
            tasks.push(tokio::spawn(async move {
                let _ = events.wait_for(|e| e.failures > 0).await;
                woken.lock().unwrap().push(i);
            }));
            // Each waiter starts waiting before the next is spawned.
            settle().await;
        }
        publisher.publish(|epoch| epoch.failures = 1);
        for task in tasks {
            task.await.unwrap();
        }
        let order = woken.lock().unwrap().clone();
        assert_eq!(order, (0..WAITERS).collect::<Vec<_>>());
    }
}
