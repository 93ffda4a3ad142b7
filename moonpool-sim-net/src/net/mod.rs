//! The fabric: packets in flight (the event queue), connections and their
//! buffers, listeners and ports, and the latency every packet travels with.

mod bind;
mod close;
pub(crate) mod connection;
mod deliver;
pub(crate) mod errors;
pub(crate) mod io;
mod listen;
pub(crate) mod options;
pub(crate) mod queue;
pub(crate) mod ready;
pub(crate) mod slab;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

pub(crate) use listen::Listener;
use queue::{Event, EventQueue};

use crate::config::NetConfig;
use crate::fault::{FaultConfig, FaultKind, FaultState};
use crate::host::HostId;
use crate::instant::later;
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
    pub(crate) faults: FaultState,
    /// When each directed link (with a bandwidth) has sent what it queued.
    link_busy: BTreeMap<(HostId, HostId), Instant>,
}

/// Where a packet travels: hosts (for per-pair latency and blocks) and
/// socket addresses (for fault events).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Path {
    pub(crate) src: HostId,
    pub(crate) dst: HostId,
    pub(crate) from: SocketAddr,
    pub(crate) to: SocketAddr,
}

impl Net {
    pub(crate) fn new(
        config: NetConfig,
        faults: FaultConfig,
        seed: u64,
        start: Instant,
        keep_records: bool,
    ) -> Self {
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
            faults: FaultState::new(faults, seed),
            link_busy: BTreeMap::new(),
        }
    }

    fn latency(&mut self, now: Instant, path: Path) -> Duration {
        self.drawn_latency(now, path) + self.link_latency(path)
    }

    /// The configured extra latency of the path's direction (no draw).
    fn link_latency(&self, path: Path) -> Duration {
        if self.config.link_latency.is_empty() {
            return Duration::ZERO;
        }
        match (path.from.ip(), path.to.ip()) {
            (IpAddr::V4(from), IpAddr::V4(to)) => self
                .config
                .link_latency
                .get(&(from, to))
                .copied()
                .unwrap_or(Duration::ZERO),
            _ => Duration::ZERO,
        }
    }

    fn drawn_latency(&mut self, now: Instant, path: Path) -> Duration {
        if self.faults.config.latency.enabled {
            let (latency, slow) = self.faults.latency(path.src, path.dst);
            if slow {
                self.fault(now, FaultKind::SlowPacket, path.from, path.to);
            }
            return latency;
        }
        let (min, max) = self.latency_ns;
        if min >= max {
            return Duration::from_nanos(min);
        }
        Duration::from_nanos(self.rng.random_range(min..=max))
    }

    /// Draws the arrival time of a packet sent now on a pipe whose previous
    /// packet arrives at `last`: never earlier than `last`, so bytes of one
    /// direction stay in order.
    pub(crate) fn arrival(&mut self, now: Instant, last: &mut Instant, path: Path) -> Instant {
        let at = later(now, self.latency(now, path)).max(*last);
        *last = at;
        at
    }

    /// [`arrival`](Self::arrival) of a data segment of `bytes`: it leaves
    /// once the link has sent it (see `NetConfig::link_bandwidth`).
    pub(crate) fn segment_arrival(
        &mut self,
        now: Instant,
        last: &mut Instant,
        path: Path,
        bytes: usize,
    ) -> Instant {
        let departed = self.departure(now, path, bytes);
        let at = later(departed, self.latency(now, path)).max(*last);
        *last = at;
        at
    }

    /// When a segment of `bytes` queued now on the path's link has been
    /// sent: after the link's earlier segments, plus its own transmission
    /// time; `now` without a bandwidth, or on loopback.
    fn departure(&mut self, now: Instant, path: Path, bytes: usize) -> Instant {
        let Some(bandwidth) = self.config.link_bandwidth.filter(|&b| b > 0) else {
            return now;
        };
        if path.src == path.dst {
            return now;
        }
        let nanos = (bytes as u128).saturating_mul(1_000_000_000) / u128::from(bandwidth);
        let transmit = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let busy = self.link_busy.entry((path.src, path.dst)).or_insert(now);
        let done = later((*busy).max(now), transmit);
        *busy = done;
        done
    }

    /// A one-off packet (handshake) that has no pipe to stay ordered with.
    pub(crate) fn arrival_unordered(&mut self, now: Instant, path: Path) -> Instant {
        later(now, self.latency(now, path))
    }

    /// Counts a fault and records it in the trace.
    pub(crate) fn fault(
        &mut self,
        now: Instant,
        kind: FaultKind,
        from: SocketAddr,
        to: SocketAddr,
    ) {
        self.faults.counts.bump(kind);
        tracing::debug!(%kind, %from, %to, "fault");
        self.record(now, NetEvent::Fault { kind, from, to });
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
