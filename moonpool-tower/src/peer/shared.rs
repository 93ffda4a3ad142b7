//! The state a peer's handles and its keeper share.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use moonpool_codec::NetworkAddress;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::PeerConfig;
use super::connection::Established;
use super::error::{ConnectionError, PeerError};
use super::events::EpochPublisher;
use super::metrics::{MetricsCells, PeerMetrics, PeerState};
use super::outgoing::{Outgoing, ReliableHandle, SendReceipt};
use super::queue::{SendQueue, Slot};

/// Locks a mutex, recovering the data if a holder panicked: every critical
/// section here leaves the data consistent before anything can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One peer's state.
pub(crate) struct PeerShared {
    /// The remote's listening address; `None` for an anonymous peer.
    pub(crate) address: Option<NetworkAddress>,
    /// Largest frame accepted by `call`.
    max_frame_length: usize,
    queue: Mutex<SendQueue>,
    /// One permit per queue slot.
    pub(crate) semaphore: Arc<Semaphore>,
    /// The bounds on packets queued without a slot: one permit per packet,
    /// and one per byte (see `PeerConfig::unreserved_capacity`).
    unreserved: Unreserved,
    /// Wakes the keeper: something was queued, or the peer closed.
    pub(crate) work: Notify,
    pub(crate) metrics: MetricsCells,
    /// Publishes the connection history; dropped with the peer.
    pub(crate) events: EpochPublisher,
    users: AtomicUsize,
    last_activity: Mutex<Instant>,
    closed: AtomicBool,
    /// An incoming connection handed over by the accept loop; a newer one
    /// replaces (closes) an older one not yet taken.
    attached: Mutex<Option<Established>>,
    pub(crate) attach_ready: Notify,
    /// Whether a version mismatch was already logged at `warn`.
    pub(crate) incompatible_logged: AtomicBool,
    last_error: Mutex<Option<Arc<ConnectionError>>>,
}

impl PeerShared {
    /// A peer configured by `config` (validated: its capacities fit a
    /// semaphore).
    pub(crate) fn new(address: Option<NetworkAddress>, config: &PeerConfig) -> Self {
        Self {
            address,
            max_frame_length: config.max_frame_length,
            queue: Mutex::new(SendQueue::default()),
            semaphore: Arc::new(Semaphore::new(config.queue_capacity.max(1))),
            unreserved: Unreserved::new(config),
            work: Notify::new(),
            metrics: MetricsCells::default(),
            events: EpochPublisher::new(),
            users: AtomicUsize::new(0),
            last_activity: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
            attached: Mutex::new(None),
            attach_ready: Notify::new(),
            incompatible_logged: AtomicBool::new(false),
            last_error: Mutex::new(None),
        }
    }

    /// Queues a packet (the body of `Peer::call`), in the queue slot
    /// `permit` reserved, or else in a place among the packets queued
    /// without one, if one is free.
    pub(crate) fn enqueue(
        &self,
        this: &Arc<Self>,
        outgoing: Outgoing,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<SendReceipt, PeerError> {
        let len = outgoing.packet.frame_len();
        if len > self.max_frame_length {
            return Err(PeerError::PacketTooLarge {
                len,
                max: self.max_frame_length,
            });
        }
        let slot = match permit {
            Some(permit) => Slot::reserved(permit),
            None => self.unreserved_slot(len)?,
        };
        let receipt = {
            let mut queue = lock(&self.queue);
            // Checked under the queue lock: `close` empties the queue under
            // it, so nothing is queued on a closed peer.
            if self.is_closed() {
                return Err(PeerError::Closed {
                    address: self.address,
                });
            }
            let delivery = outgoing.delivery;
            let seq = queue.push(outgoing.packet, delivery, slot);
            // Read under the queue lock, as the keeper bumps it under the
            // same lock: see `SendReceipt` for why this is exact.
            let failures_at_accept = self.events.current().failures;
            SendReceipt {
                delivery,
                failures_at_accept,
                handle: match delivery {
                    super::Delivery::Reliable => Some(ReliableHandle {
                        peer: Arc::downgrade(this),
                        seq,
                    }),
                    super::Delivery::Unreliable => None,
                },
                events: self.events.subscribe(),
            }
        };
        self.touch();
        self.work.notify_one();
        Ok(receipt)
    }

    /// A place for a packet of `len` frame bytes sent without a reserved
    /// slot, or the error that refuses it.
    fn unreserved_slot(&self, len: usize) -> Result<Slot, PeerError> {
        match self.unreserved.try_take(len) {
            Ok(slot) => Ok(slot),
            Err(TryAcquireError::Closed) => Err(PeerError::Closed {
                address: self.address,
            }),
            Err(TryAcquireError::NoPermits) => {
                let refused = self
                    .metrics
                    .unreserved_refused
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                let waiting = self.unreserved.waiting();
                // Throttled: a remote that stops reading makes every reply
                // fail here.
                if refused.is_power_of_two() {
                    warn!(address = ?self.address, waiting, refused,
                        "connection not draining; refusing a packet sent without a queue slot");
                } else {
                    debug!(address = ?self.address, waiting, refused,
                        "refusing a packet sent without a queue slot");
                }
                Err(PeerError::Overloaded {
                    address: self.address,
                    waiting,
                })
            }
        }
    }

    /// Forgets reliable packet `seq`. An acknowledgement is activity: the
    /// idle timer starts again.
    pub(crate) fn cancel(&self, seq: u64) {
        if lock(&self.queue).cancel(seq) {
            self.touch();
        }
    }

    pub(crate) fn is_reliable_pending(&self, seq: u64) -> bool {
        lock(&self.queue).is_reliable_pending(seq)
    }

    /// Runs `f` on the queue.
    pub(crate) fn with_queue<R>(&self, f: impl FnOnce(&mut SendQueue) -> R) -> R {
        f(&mut lock(&self.queue))
    }

    /// A connection or an attempt ended: discard unreliable packets, queue
    /// the reliable ones again, count the failure and publish it.
    pub(crate) fn connection_ended(&self, error: ConnectionError, state: PeerState) {
        let cause = error.cause();
        {
            let mut queue = lock(&self.queue);
            let discarded = queue.connection_ended();
            MetricsCells::add(&self.metrics.unreliable_discarded, discarded as u64);
            self.metrics.count_failure(cause);
            self.metrics.set_state(state);
            self.events.publish(|epoch| {
                epoch.failures += 1;
                epoch.state = state;
            });
        }
        *lock(&self.last_error) = Some(Arc::new(error));
    }

    /// A connection was established.
    pub(crate) fn connection_established(&self) {
        MetricsCells::add(&self.metrics.connections, 1);
        self.set_state(PeerState::Connected);
        self.events.publish(|epoch| epoch.connections += 1);
    }

    pub(crate) fn set_state(&self, state: PeerState) {
        self.metrics.set_state(state);
        self.events.publish_if(|epoch| {
            let changed = epoch.state != state;
            epoch.state = state;
            changed
        });
    }

    /// Shuts the peer: nothing more is accepted, everything queued is
    /// dropped, waiters of `poll_ready` are released.
    pub(crate) fn close(&self) {
        {
            let mut queue = lock(&self.queue);
            self.closed.store(true, Ordering::SeqCst);
            queue.clear();
        }
        self.semaphore.close();
        self.unreserved.close();
        drop(lock(&self.attached).take());
        self.set_state(PeerState::Closed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Hands an incoming connection to the keeper. Returns the connection
    /// to close: an older one the keeper had not taken yet, or this one if
    /// the peer is closed. The caller drops it (user I/O code) outside its
    /// locks.
    #[must_use = "the returned connection is to be dropped outside any lock"]
    pub(crate) fn attach(&self, connection: Established) -> Option<Established> {
        if self.is_closed() {
            return Some(connection);
        }
        let older = lock(&self.attached).replace(connection);
        self.attach_ready.notify_one();
        older
    }

    pub(crate) fn take_attached(&self) -> Option<Established> {
        lock(&self.attached).take()
    }

    pub(crate) fn has_attached(&self) -> bool {
        lock(&self.attached).is_some()
    }

    pub(crate) fn user_added(&self) {
        self.users.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn user_removed(&self) {
        if self.users.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.touch();
        }
    }

    pub(crate) fn users(&self) -> usize {
        self.users.load(Ordering::SeqCst)
    }

    /// Records activity: the idle timer starts again.
    pub(crate) fn touch(&self) {
        *lock(&self.last_activity) = Instant::now();
    }

    pub(crate) fn last_activity(&self) -> Instant {
        *lock(&self.last_activity)
    }

    /// No user, nothing queued or held, no incoming connection waiting.
    pub(crate) fn is_unused(&self) -> bool {
        self.users() == 0 && lock(&self.queue).is_empty() && !self.has_attached()
    }

    pub(crate) fn last_error(&self) -> Option<Arc<ConnectionError>> {
        lock(&self.last_error).clone()
    }

    pub(crate) fn metrics(&self) -> PeerMetrics {
        let (depth, outstanding) = {
            let queue = lock(&self.queue);
            (queue.depth() as u64, queue.reliable_outstanding() as u64)
        };
        self.metrics.snapshot(depth, outstanding)
    }
}

/// The two bounds on packets queued without a reserved slot.
struct Unreserved {
    places: Arc<Semaphore>,
    capacity: usize,
    bytes: Arc<Semaphore>,
    /// The most byte permits one packet takes: the whole budget, so one
    /// packet of any accepted size fits when no other waits.
    max_bytes: u32,
}

impl Unreserved {
    fn new(config: &PeerConfig) -> Self {
        let capacity = config.unreserved_capacity.max(1);
        let bytes = config.unreserved_bytes.max(1);
        Self {
            places: Arc::new(Semaphore::new(capacity)),
            capacity,
            bytes: Arc::new(Semaphore::new(bytes)),
            max_bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        }
    }

    fn try_take(&self, len: usize) -> Result<Slot, TryAcquireError> {
        let place = self.places.clone().try_acquire_owned()?;
        let share = u32::try_from(len).unwrap_or(u32::MAX).min(self.max_bytes);
        let bytes = self.bytes.clone().try_acquire_many_owned(share)?;
        Ok(Slot::unreserved(place, bytes))
    }

    /// Packets waiting in these places.
    fn waiting(&self) -> usize {
        self.capacity
            .saturating_sub(self.places.available_permits())
    }

    fn close(&self) {
        self.places.close();
        self.bytes.close();
    }
}
