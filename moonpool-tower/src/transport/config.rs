//! The tunables of a transport.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::TransportConfigError;
use crate::endpoint::DEFAULT_MAX_HANDLER_TASKS;
use crate::knobs::KnobDraw;
use crate::peer::PeerConfig;

/// The tunables of a [`Transport`](super::Transport): its peers' and its
/// accept loop's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TransportConfig {
    /// The configuration of every peer of the transport.
    pub peer: PeerConfig,
    /// The accept loop's own tunables.
    pub accept: AcceptConfig,
    /// The endpoint router's tunables.
    pub endpoint: EndpointConfig,
}

/// The tunables of the accept loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptConfig {
    /// Pause after an accept error (for instance too many open files)
    /// before accepting again. Default 100 ms: errors of that kind persist
    /// for a while, and retrying at once would spin.
    pub error_pause: Duration,
    /// Accepted connections whose handshake may be under way at once. When
    /// all are taken, a new connection takes the place of the oldest
    /// unfinished handshake, which is closed (counted in
    /// [`AcceptMetrics::evicted_handshaking`](super::AcceptMetrics)):
    /// connections that stall their handshake can delay a new client by
    /// at most the time the limit's worth of newer connections take to
    /// arrive, never lock it out (a refused newcomer would wait for the
    /// stalled ones to time out, and an attacker who keeps reopening them
    /// would keep it out for good). Every handshake also ends at its
    /// deadline, [`PeerConfig::handshake_timeout`](crate::peer::PeerConfig::handshake_timeout)
    /// (counted in [`AcceptMetrics::handshake_timeouts`](super::AcceptMetrics)).
    /// Default 1024: each costs a task and a buffer until it ends, so a
    /// flood of connections that never complete one cannot grow memory
    /// without bound, while the whole cluster reconnecting to a restarted
    /// server still fits. Values below 1 count as 1.
    pub max_handshaking: usize,
    /// Handshakes one source (IP address) may have under way at once: a
    /// new connection from a source that holds this many takes the place
    /// of that source's oldest unfinished handshake (counted in
    /// [`AcceptMetrics::evicted_same_source`](super::AcceptMetrics)), so a
    /// single flooding host churns through its own handshakes, not other
    /// hosts'. Default 256, a quarter of `max_handshaking`: it takes four
    /// flooding hosts to reach the global limit, and a host reconnecting
    /// hundreds of processes at once still fits. Values below 1 count as 1.
    pub max_handshaking_per_source: usize,
    /// Anonymous peers (clients that announced no listening address, each
    /// with its own connection and keeper task) kept at once. A connection
    /// that completes its handshake as one more is closed at once (counted
    /// in [`AcceptMetrics::refused_anonymous`](super::AcceptMetrics)).
    /// Default 10 000: far above the clients a server process normally
    /// serves, low enough that a connection flood cannot exhaust memory.
    /// Values below 1 count as 1.
    pub max_anonymous_peers: usize,
}

impl Default for AcceptConfig {
    fn default() -> Self {
        Self {
            error_pause: Duration::from_millis(100),
            max_handshaking: 1024,
            max_handshaking_per_source: 256,
            max_anonymous_peers: 10_000,
        }
    }
}

/// The tunables of the endpoint router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointConfig {
    /// Requests a [`RequestStream`](crate::actor::RequestStream) holds
    /// before it answers new ones `BrokenPromise` instead of queueing them.
    /// Default 1024: a server loop that far behind is overloaded; the bound
    /// keeps peers from growing its memory without limit, and the caller
    /// learns at once (its retry policy decides what to do).
    pub request_stream_capacity: usize,
    /// Of a [`RequestStream`](crate::actor::RequestStream)'s queue, the
    /// requests from one peer it holds: beyond it, that peer's next request
    /// is answered `BrokenPromise` while other peers' are still queued.
    /// Default 256, a quarter of `request_stream_capacity`: it takes four
    /// peers that flood faster than the server reads to fill the queue,
    /// while a single busy peer can still have hundreds of requests
    /// waiting.
    pub request_stream_capacity_per_peer: usize,
    /// Requests whose service did not answer at once that may run as
    /// tasks at the same time; beyond it such a request is dropped, which a
    /// typed endpoint answers `BrokenPromise`. Default
    /// [`DEFAULT_MAX_HANDLER_TASKS`] (4096; its doc says why).
    /// [`EndpointRouter::set_max_handler_tasks`](crate::endpoint::EndpointRouter::set_max_handler_tasks)
    /// changes it at run time.
    pub max_handler_tasks: usize,
    /// Of [`max_handler_tasks`](Self::max_handler_tasks), the tasks the
    /// requests of one peer may run at once: beyond it, that peer's request
    /// is dropped (a typed endpoint answers `BrokenPromise`) while other
    /// peers' are still served. Default 1024, a quarter of the default
    /// `max_handler_tasks`: one flooding peer leaves three quarters of the
    /// places to the others, and a thousand slow calls in flight from one
    /// peer still fit.
    pub max_handler_tasks_per_peer: usize,
    /// Well-known indices (`Uid::well_known(i)`, `i` below this) whose
    /// endpoints live in the router's fixed array, found in O(1) by index
    /// (see [`EndpointMap`](crate::endpoint::EndpointMap)); other tokens
    /// live in its hash map. Default 256: moonpool's 64 reserved indices and
    /// 192 for the application's own well-known endpoints, at a few
    /// kilobytes per node. A well-known token beyond it still works, through
    /// the hash map.
    pub well_known_slots: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            request_stream_capacity: 1024,
            request_stream_capacity_per_peer: 256,
            max_handler_tasks: DEFAULT_MAX_HANDLER_TASKS,
            max_handler_tasks_per_peer: 1024,
            well_known_slots: 256,
        }
    }
}

impl TransportConfig {
    /// This configuration with some knobs redrawn for a simulation: its
    /// peers' ([`PeerConfig::randomize`]), its accept loop's
    /// ([`AcceptConfig::randomize`]) and its router's
    /// ([`EndpointConfig::randomize`]). The result passes
    /// [`validate`](Self::validate). See [`crate::knobs`].
    pub fn randomize<R: Rng + ?Sized>(self, rng: &mut R) -> Self {
        Self {
            peer: self.peer.randomize(rng),
            accept: self.accept.randomize(rng),
            endpoint: self.endpoint.randomize(rng),
        }
    }
}

impl AcceptConfig {
    /// This configuration with some knobs redrawn for a simulation (see
    /// [`crate::knobs`]).
    ///
    /// | knob | range | why |
    /// | --- | --- | --- |
    /// | `error_pause` | 1 ms ..= 1 s | from retrying almost at once to ten times the default |
    /// | `max_handshaking` | 4 ..= 1024 | evictions of unfinished handshakes happen when clients connect together, without locking a test's few clients out |
    /// | `max_handshaking_per_source` | 2 ..= 256, at most `max_handshaking` | likewise, per host |
    /// | `max_anonymous_peers` | 64 ..= 10 000 | a server refuses clients beyond it for good: the floor stays above any test's clients |
    pub fn randomize<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        let mut draw = KnobDraw::new(rng);
        draw.duration(
            &mut self.error_pause,
            Duration::from_millis(1)..=Duration::from_secs(1),
        );
        draw.count(&mut self.max_handshaking, 4..=1024);
        draw.count(
            &mut self.max_handshaking_per_source,
            2..=256.min(self.max_handshaking),
        );
        draw.count(&mut self.max_anonymous_peers, 64..=10_000);
        self.max_handshaking_per_source = self.max_handshaking_per_source.min(self.max_handshaking);
        self
    }
}

impl EndpointConfig {
    /// This configuration with some knobs redrawn for a simulation (see
    /// [`crate::knobs`]).
    ///
    /// | knob | range | why |
    /// | --- | --- | --- |
    /// | `request_stream_capacity` | 64 ..= 1024 | requests beyond it are answered `BrokenPromise`, which a workload sees: the floor stays above a test's concurrent calls |
    /// | `request_stream_capacity_per_peer` | 16 ..= 256, at most the above | likewise, per peer |
    /// | `max_handler_tasks` | 64 ..= 4096 | as `request_stream_capacity`, for requests served by tasks |
    /// | `max_handler_tasks_per_peer` | 16 ..= 1024, at most the above | likewise, per peer |
    /// | `well_known_slots` | 0 ..= 256 | from every token in the hash map to the default array: lookups must agree either way |
    pub fn randomize<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        let mut draw = KnobDraw::new(rng);
        draw.count(&mut self.request_stream_capacity, 64..=1024);
        draw.count(
            &mut self.request_stream_capacity_per_peer,
            16..=256.min(self.request_stream_capacity),
        );
        draw.count(&mut self.max_handler_tasks, 64..=4096);
        draw.count(
            &mut self.max_handler_tasks_per_peer,
            16..=1024.min(self.max_handler_tasks),
        );
        draw.count(&mut self.well_known_slots, 0..=256);
        // A per-peer share is at most the whole, whichever was redrawn.
        self.request_stream_capacity_per_peer = self
            .request_stream_capacity_per_peer
            .min(self.request_stream_capacity);
        self.max_handler_tasks_per_peer =
            self.max_handler_tasks_per_peer.min(self.max_handler_tasks);
        self
    }
}

impl TransportConfig {
    /// Checks that a transport can run with this configuration: the
    /// reconnection schedule is valid and every capacity fits in the
    /// bounded queues that enforce it. [`TransportBuilder::build`](super::TransportBuilder::build)
    /// calls it.
    ///
    /// ```
    /// use moonpool_tower::transport::{TransportConfig, TransportConfigError};
    ///
    /// let mut config = TransportConfig::default();
    /// assert_eq!(config.validate(), Ok(()));
    /// config.peer.queue_capacity = usize::MAX;
    /// assert!(matches!(
    ///     config.validate(),
    ///     Err(TransportConfigError::CapacityTooLarge { field: "peer.queue_capacity", .. })
    /// ));
    /// ```
    pub fn validate(&self) -> Result<(), TransportConfigError> {
        self.peer.reconnect.validate()?;
        let capacities = [
            ("peer.queue_capacity", self.peer.queue_capacity),
            ("peer.unreserved_capacity", self.peer.unreserved_capacity),
            ("peer.unreserved_bytes", self.peer.unreserved_bytes),
            (
                "endpoint.request_stream_capacity",
                self.endpoint.request_stream_capacity,
            ),
            (
                "accept.max_anonymous_peers",
                self.accept.max_anonymous_peers,
            ),
        ];
        for (field, value) in capacities {
            if value > MAX_CAPACITY {
                return Err(TransportConfigError::CapacityTooLarge {
                    field,
                    value,
                    max: MAX_CAPACITY,
                });
            }
        }
        Ok(())
    }
}

/// The largest bound a tokio semaphore or bounded channel can keep: beyond
/// it, their constructors panic.
const MAX_CAPACITY: usize = Semaphore::MAX_PERMITS;
