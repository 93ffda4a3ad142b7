//! Every tunable number of the simulator, with its default and the reason for it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::knobs::maybe_log_uniform;

/// The simulated network's tunables.
///
/// Build one with [`NetConfig::default`] and change the fields you need:
///
/// ```
/// use std::time::Duration;
/// use moonpool_sim_net::NetConfig;
///
/// let config = NetConfig {
///     latency: Duration::from_micros(100)..=Duration::from_millis(1),
///     ..NetConfig::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfig {
    /// One-way latency of every segment, FIN, RST and handshake packet, drawn
    /// uniformly from this range for each packet.
    ///
    /// Default: 100 µs ..= 1 ms, a data-centre network. Note that tokio's
    /// timer wheel has a resolution of 1 ms: a packet becomes visible at the
    /// first millisecond tick at or after its drawn arrival time, in the order
    /// of the drawn times.
    pub latency: RangeInclusive<Duration>,
    /// Default send buffer of a socket: bytes a writer may have written and
    /// not yet seen arrive in the peer's receive buffer before `poll_write`
    /// returns `Pending`.
    ///
    /// Default: 4 MiB, Linux's `net.ipv4.tcp_wmem` maximum (4194304), the
    /// size send-buffer autotuning reaches on a loopback connection; with
    /// the receive buffer below, a writer whose peer does not read blocks
    /// after about 4.1 MiB, as measured through tokio on 127.0.0.1. There is
    /// no autotuning: the buffer has this size from the start.
    /// [`SimTcpSocket::set_send_buffer_size`](crate::SimTcpSocket::set_send_buffer_size)
    /// sizes one socket.
    pub send_buffer: usize,
    /// Default receive buffer of a socket: bytes a receiver buffers (arrived
    /// plus in flight) before the sender stops transmitting, the TCP window.
    ///
    /// Default: 128 KiB, Linux's `net.ipv4.tcp_rmem` default (131072), the
    /// receive buffer a socket starts with (autotuning grows it only while
    /// the application reads).
    /// [`SimTcpSocket::set_recv_buffer_size`](crate::SimTcpSocket::set_recv_buffer_size)
    /// sizes one socket.
    pub receive_window: usize,
    /// The socket-buffer sizes an application may ask for, as Linux applies
    /// `SO_SNDBUF`/`SO_RCVBUF`: a request is capped at `max`, then doubled
    /// (the kernel's allowance for bookkeeping), then raised to the minimum.
    pub buffer_limits: BufferLimits,
    /// Largest segment the fabric puts on the wire; a larger write travels as
    /// several segments, each with its own latency draw.
    ///
    /// Default: 64 KiB, the loopback interface's segment size.
    pub max_segment_size: usize,
    /// Ports handed out for port 0 and for the local end of outgoing
    /// connections. A port is reused once the connection that held it is
    /// closed at both ends.
    ///
    /// Default: 49152 ..= 65535, the IANA dynamic range.
    pub ephemeral_ports: RangeInclusive<u16>,
    /// Backlog of [`SimTcpListener::bind`](crate::SimTcpListener::bind):
    /// connections the kernel completes and queues before `accept` takes
    /// them. A connection request that finds the queue full is dropped and
    /// the client retransmits it (see [`NetConfig::syn_retries`]).
    ///
    /// Default: 1024, the backlog tokio's `TcpListener::bind` asks for.
    pub listen_backlog: usize,
    /// The largest backlog `listen` grants; a larger request is capped.
    ///
    /// Default: 4096, Linux's `net.core.somaxconn`.
    pub max_listen_backlog: usize,
    /// How many times a client retransmits a connection request nobody
    /// answered (a listener whose accept queue was full) before `connect`
    /// fails with `TimedOut`; the first retransmission waits
    /// [`NetConfig::syn_timeout`], each next one twice as long.
    ///
    /// Default: 6, Linux's `net.ipv4.tcp_syn_retries` (about 127 s in all).
    pub syn_retries: u32,
    /// The first SYN retransmission timeout.
    ///
    /// Default: 1 s, Linux's initial retransmission timeout (`TCP_TIMEOUT_INIT`).
    pub syn_timeout: Duration,
    /// The IP time-to-live a socket starts with (`ttl()`).
    ///
    /// Default: 64, Linux's `net.ipv4.ip_default_ttl`.
    pub default_ttl: u32,
    /// Extra one-way latency of one direction of a host pair: every packet
    /// from the first address to the second takes this much longer, on top
    /// of the drawn latency. The other direction has its own entry (or
    /// none), so A→B may differ from B→A, as on an asymmetric route. Set
    /// entries with [`NetConfig::with_link_latency`].
    ///
    /// Default: empty. An entry draws no randomness, so adding none leaves
    /// every seed's trace as it was.
    pub link_latency: BTreeMap<(Ipv4Addr, Ipv4Addr), Duration>,
    /// Bandwidth of each direction of each host pair (a link), in bytes per
    /// second: a segment leaves its sender once the link has sent the
    /// segments queued before it, plus its own size at this rate, then
    /// travels its latency. Connections on one link share it first come,
    /// first served, segment by segment (not max-min fair); loopback is
    /// unlimited.
    ///
    /// Default: `None`, unlimited: a segment takes its latency whatever its
    /// size, and no seed's trace changes.
    pub link_bandwidth: Option<u64>,
}

/// How requested socket-buffer sizes become buffer sizes (Linux's rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BufferLimits {
    /// The largest request honoured before doubling.
    ///
    /// Default: 212992, the stock value of Linux's `net.core.wmem_max` and
    /// `net.core.rmem_max`.
    pub max: usize,
    /// The smallest send buffer.
    ///
    /// Default: 4608, Linux's `SOCK_MIN_SNDBUF` on x86-64.
    pub min_send: usize,
    /// The smallest receive buffer.
    ///
    /// Default: 2304, Linux's `SOCK_MIN_RCVBUF` on x86-64.
    pub min_recv: usize,
}

impl Default for BufferLimits {
    fn default() -> Self {
        Self {
            max: 212_992,
            min_send: 4608,
            min_recv: 2304,
        }
    }
}

impl BufferLimits {
    /// The send buffer a request of `requested` bytes gives.
    pub fn send(&self, requested: u32) -> usize {
        self.apply(requested, self.min_send)
    }

    /// The receive buffer a request of `requested` bytes gives.
    pub fn recv(&self, requested: u32) -> usize {
        self.apply(requested, self.min_recv)
    }

    fn apply(&self, requested: u32, min: usize) -> usize {
        let requested = usize::try_from(requested).unwrap_or(usize::MAX);
        requested.min(self.max).saturating_mul(2).max(min).max(1)
    }
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            latency: Duration::from_micros(100)..=Duration::from_millis(1),
            send_buffer: 4 * 1024 * 1024,
            receive_window: 128 * 1024,
            buffer_limits: BufferLimits::default(),
            max_segment_size: 64 * 1024,
            ephemeral_ports: 49152..=65535,
            listen_backlog: 1024,
            max_listen_backlog: 4096,
            syn_retries: 6,
            syn_timeout: Duration::from_secs(1),
            default_ttl: 64,
            link_latency: BTreeMap::new(),
            link_bandwidth: None,
        }
    }
}

impl NetConfig {
    /// Adds `latency` to every packet from `from` to `to` (one direction;
    /// see [`NetConfig::link_latency`]).
    pub fn with_link_latency(mut self, from: Ipv4Addr, to: Ipv4Addr, latency: Duration) -> Self {
        self.link_latency.insert((from, to), latency);
        self
    }

    /// Checks that every field describes a network that can carry bytes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, problem| Err(ConfigError { field, problem });
        if self.latency.start() > self.latency.end() {
            return invalid("latency", "range is empty (start > end)");
        }
        if self.send_buffer == 0 {
            return invalid("send_buffer", "must be at least 1 byte");
        }
        if self.receive_window == 0 {
            return invalid("receive_window", "must be at least 1 byte");
        }
        if self.max_segment_size == 0 {
            return invalid("max_segment_size", "must be at least 1 byte");
        }
        if self.ephemeral_ports.start() > self.ephemeral_ports.end()
            || *self.ephemeral_ports.start() == 0
        {
            return invalid("ephemeral_ports", "range is empty or contains port 0");
        }
        if self.max_listen_backlog == 0 {
            return invalid("max_listen_backlog", "must be at least 1");
        }
        if !(1..=255).contains(&self.default_ttl) {
            return invalid("default_ttl", "must be 1 ..= 255");
        }
        Ok(())
    }
}

impl NetConfig {
    /// This network with some socket knobs redrawn for a simulation (see
    /// [`crate::knobs`]): each with probability
    /// [`KNOB_PROBABILITY`](crate::knobs::KNOB_PROBABILITY), log-uniformly
    /// from its range. The result passes [`validate`](Self::validate).
    ///
    /// | knob | range | why |
    /// | --- | --- | --- |
    /// | `send_buffer` | 4608 ..= 4 MiB | from Linux's smallest send buffer (writes block and come out short) to the default |
    /// | `receive_window` | 2304 ..= 1 MiB | from Linux's smallest receive buffer (a frame arrives in many pieces) to what autotuning reaches |
    /// | `max_segment_size` | 536 ..= 64 KiB | from TCP's historical default MSS (many segments, each with its own latency) to the default |
    /// | `listen_backlog` | 4 ..= 1024 | from a queue that overflows when clients connect together (SYNs retransmitted) to the default |
    ///
    /// Latency is kept (the fault configuration varies it), and so are the
    /// port ranges, SYN timers and TTL, which tune nothing the stack does.
    pub fn randomize<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        self.send_buffer = maybe_log_uniform(rng, self.send_buffer, 4608, 4 * 1024 * 1024);
        self.receive_window = maybe_log_uniform(rng, self.receive_window, 2304, 1024 * 1024);
        self.max_segment_size = maybe_log_uniform(rng, self.max_segment_size, 536, 64 * 1024);
        self.listen_backlog = maybe_log_uniform(rng, self.listen_backlog, 4, 1024);
        self
    }
}

/// A configuration field that can not work, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: `{field}` {problem}")]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Tunables of one iteration, beyond the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// When an iteration reaches its budget, it is reported as
    /// [`SimError::Stalled`](crate::SimError::Stalled) if nothing happened
    /// (no network event, no host task polled) during this final stretch of
    /// simulated time, and as
    /// [`SimError::BudgetExceeded`](crate::SimError::BudgetExceeded)
    /// otherwise. The stretch is capped at half the budget.
    ///
    /// Default: 5 s, longer than any periodic timer of the stack (pings
    /// every 1 s), so a live system is never mistaken for a stalled one.
    pub stall_window: Duration,
    /// Keep every network event, with its simulated time, in
    /// [`SimOutcome::trace`](crate::SimOutcome::trace). The stable hash is
    /// always computed; the list costs memory, so it is off by default.
    ///
    /// Default: `false`.
    pub record_trace: bool,
    /// What the operating system answers code on the iteration's thread
    /// for randomness and the time (see [`crate::os`]).
    ///
    /// Default: [`OsConfig::default`], seeded.
    pub os: OsConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            stall_window: Duration::from_secs(5),
            record_trace: false,
            os: OsConfig::default(),
        }
    }
}

/// The simulated operating system's entropy and clocks (see [`crate::os`]).
///
/// The epochs are drawn per seed from these ranges, so a seed always starts
/// at the same wall-clock time and uptime, and different seeds start at
/// different ones: code that formats dates, rotates by day or compares
/// timestamps sees a spread of clocks across a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsConfig {
    /// Answer OS randomness and clock calls on the iteration's thread from
    /// the simulation. Turning it off gives the operating system's own
    /// answers, which differ on every run; it exists to measure the cost of
    /// seeding, not for tests.
    ///
    /// Default: `true`.
    pub seeded: bool,
    /// The realtime clock (`SystemTime::now()`) at the start of an
    /// iteration, as time since the UNIX epoch.
    ///
    /// Default: 2025-01-01T00:00:00Z ..= 2026-01-01T00:00:00Z, a recent
    /// year, so certificates and date arithmetic behave as in production.
    pub wall_clock: RangeInclusive<Duration>,
    /// The monotonic clock (`std::time::Instant`, uptime) at the start of an
    /// iteration; tokio's paused clock starts there too.
    ///
    /// Default: 1 minute ..= 30 days of uptime, away from zero so that code
    /// subtracting a timeout from "now" does not underflow.
    pub uptime: RangeInclusive<Duration>,
}

impl Default for OsConfig {
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        // 2025-01-01T00:00:00Z.
        const YEAR_2025: u64 = 1_735_689_600;
        Self {
            seeded: true,
            wall_clock: Duration::from_secs(YEAR_2025)..=Duration::from_secs(YEAR_2025 + 365 * DAY),
            uptime: Duration::from_secs(60)..=Duration::from_secs(30 * DAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(NetConfig::default().validate(), Ok(()));
    }

    #[test]
    fn randomized_networks_are_valid_and_keep_some_defaults() {
        use rand::SeedableRng;
        let default = NetConfig::default();
        let mut kept = 0;
        for seed in 0..300 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let config = default.clone().randomize(&mut rng);
            assert_eq!(config.validate(), Ok(()));
            assert!((4608..=4 * 1024 * 1024).contains(&config.send_buffer));
            assert_eq!(config.latency, default.latency);
            kept += usize::from(config.send_buffer == default.send_buffer);
        }
        assert!((150..280).contains(&kept), "kept {kept} of 300");
    }

    #[test]
    fn inverted_latency_range_is_rejected() {
        let config = NetConfig {
            latency: Duration::from_millis(2)..=Duration::from_millis(1),
            ..NetConfig::default()
        };
        assert_eq!(config.validate().map_err(|e| e.field), Err("latency"));
    }

    #[test]
    fn requested_buffer_sizes_are_capped_doubled_and_raised_to_the_minimum() {
        let limits = BufferLimits::default();
        assert_eq!(limits.send(16 * 1024), 32 * 1024);
        assert_eq!(limits.recv(16 * 1024), 32 * 1024);
        assert_eq!(limits.send(1), 4608);
        assert_eq!(limits.recv(1), 2304);
        assert_eq!(limits.send(u32::MAX), 2 * 212_992);
    }
}
