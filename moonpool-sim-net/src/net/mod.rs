//! The fabric: packets in flight (the event queue), connections and their
//! buffers, listeners and ports, and the latency every packet travels with.

pub(crate) mod connection;
mod deliver;
pub(crate) mod errors;
mod io;
mod listen;
pub(crate) mod queue;
pub(crate) mod slab;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

pub(crate) use listen::Listener;
use queue::{Event, EventQueue};

use crate::config::NetConfig;
use crate::seed::{NET_STREAM, derive_seed};
use crate::trace::{EventTrace, NetEvent};
use crate::world::Wakes;

/// The wire: configuration, randomness for latency draws, the event queue,
/// and the trace of what arrived.
pub(crate) struct Net {
    pub(crate) config: NetConfig,
    rng: StdRng,
    latency_ns: (u64, u64),
    pub(crate) queue: EventQueue,
    /// The instant the driver sleeps until (None: no event, it waits for one).
    armed: Option<Instant>,
    pub(crate) trace: EventTrace,
    pub(crate) start: Instant,
}

impl Net {
    pub(crate) fn new(config: NetConfig, seed: u64, start: Instant, keep_records: bool) -> Self {
        let nanos = |d: &Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let latency_ns = (nanos(config.latency.start()), nanos(config.latency.end()));
        Self {
            config,
            rng: StdRng::seed_from_u64(derive_seed(seed, &[NET_STREAM])),
            latency_ns,
            queue: EventQueue::new(),
            armed: None,
            trace: EventTrace::new(keep_records),
            start,
        }
    }

    fn latency(&mut self) -> Duration {
        let (min, max) = self.latency_ns;
        if min >= max {
            return Duration::from_nanos(min);
        }
        Duration::from_nanos(self.rng.random_range(min..=max))
    }

    /// Draws the arrival time of a packet sent now on a pipe whose previous
    /// packet arrives at `last`: never earlier than `last`, so bytes of one
    /// direction stay in order.
    pub(crate) fn arrival(&mut self, now: Instant, last: &mut Instant) -> Instant {
        let at = (now + self.latency()).max(*last);
        *last = at;
        at
    }

    /// A one-off packet (handshake) that has no pipe to stay ordered with.
    pub(crate) fn arrival_unordered(&mut self, now: Instant) -> Instant {
        now + self.latency()
    }

    pub(crate) fn schedule(&mut self, at: Instant, event: Event, wakes: &mut Wakes) {
        self.queue.push(at, event);
        if self.armed.is_none_or(|armed| at < armed) {
            self.armed = Some(at);
            wakes.notify_driver();
        }
    }

    /// Called by the driver after a batch: the instant it must wake next.
    pub(crate) fn arm(&mut self) -> Option<Instant> {
        self.armed = self.queue.next_time();
        self.armed
    }

    pub(crate) fn record(&mut self, now: Instant, event: NetEvent) {
        self.trace
            .record(now.saturating_duration_since(self.start), event);
    }
}
