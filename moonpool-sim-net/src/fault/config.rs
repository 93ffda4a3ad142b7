//! `FaultConfig`: every fault the simulator can inject, as plain data, with
//! its default in [`FaultConfig::chaos`] and the real-world failure it stands
//! for. [`FaultConfig::quiet`] (the default) injects nothing.

use std::net::Ipv4Addr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::seed::derive_seed;

/// Tags the swarm draw so it never coincides with another stream.
const SWARM_STREAM: u64 = 0x7377_6172_6d5f_6661;

/// Every fault family, each with its own switch and rates.
///
/// Build one with [`FaultConfig::quiet`], [`FaultConfig::chaos`] or
/// [`FaultConfig::swarm`] and change the fields you need:
///
/// ```
/// use std::time::Duration;
/// use moonpool_sim_net::FaultConfig;
///
/// let mut faults = FaultConfig::chaos();
/// faults.bit_flip.enabled = false; // this test's protocol has no checksum
/// faults.connection_timeout = Duration::from_secs(10);
/// assert!(faults.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Per-packet latency model (FoundationDB's), per host pair base latency, jitter.
    pub latency: LatencyFaults,
    /// A host's send side, receive side, or a host pair stalls for a while.
    pub clog: ClogFaults,
    /// Network partitions: a pair, one direction, or one host from all others.
    pub partition: PartitionFaults,
    /// A connection closes (FIN or RST) on a random read or write.
    pub random_close: CloseFaults,
    /// Bits flipped in delivered bytes.
    pub bit_flip: BitFlipFaults,
    /// `poll_write` takes a prefix, `poll_read` returns less than available.
    pub short_io: ShortIoFaults,
    /// Connection attempts refused or left hanging.
    pub connect: ConnectFaults,
    /// Segments lost and retransmitted later.
    pub loss: LossFaults,
    /// Hosts crashed (RST, silently, or gracefully) and restarted.
    pub attrition: AttritionFaults,
    /// A per-host clock running ahead of simulated time.
    pub clock: ClockFaults,
    /// `buggified_sleep` sometimes sleeps longer.
    pub buggified_delay: BuggifiedDelayFaults,
    /// How long a connection keeps unacknowledged data (held by a partition,
    /// lost, or sent to a vanished host) before both ends see it fail with
    /// `TimedOut`: TCP's retransmission timeout giving up.
    ///
    /// Default: 5 s (Linux gives up after ~15 minutes; a short value lets
    /// simulations see it).
    pub connection_timeout: Duration,
    /// Hosts exempt from every random fault: never clogged, partitioned,
    /// crashed, closed or corrupted (scripted faults still apply).
    ///
    /// Default: none.
    pub stable_hosts: Vec<Ipv4Addr>,
}

/// Latency model. Off: each packet draws uniformly from
/// [`NetConfig::latency`](crate::NetConfig::latency), the core's model.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyFaults {
    /// Use this model instead of `NetConfig::latency`. Chaos: on.
    pub enabled: bool,
    /// Fastest one-way latency. Chaos: 100 µs (FoundationDB `MIN_NETWORK_LATENCY`).
    pub min: Duration,
    /// Upper end of the common case. Chaos: 800 µs (`FAST_NETWORK_LATENCY`).
    pub fast: Duration,
    /// Upper end of the slow tail. Chaos: 100 ms (`SLOW_NETWORK_LATENCY`).
    pub slow: Duration,
    /// Probability that a packet takes the slow tail. Chaos: 0.001 (FoundationDB's `1 - pFast`).
    pub slow_probability: f64,
    /// Largest fixed extra latency of a host pair, drawn once per pair at its
    /// first packet: hosts in different racks. Chaos: 2 ms.
    pub pair_base_max: Duration,
    /// Largest extra uniform noise per packet. Chaos: 300 µs.
    pub jitter_max: Duration,
}

/// Clogging: a stall, nothing lost. FoundationDB's `clogInterface` / `clogPair`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClogFaults {
    /// Inject random clogs. Chaos: on.
    pub enabled: bool,
    /// Mean time between two random clogs (uniform in 0..2×); must be
    /// positive. Chaos: 4 s.
    pub interval: Duration,
    /// Longest clog (uniform in 0..=max). Chaos: 2 s.
    pub max_duration: Duration,
}

/// Partitions. FoundationDB's `RandomClogging` swizzle and the machine
/// attrition workload's network kills.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionFaults {
    /// Inject random partitions. Chaos: on.
    pub enabled: bool,
    /// Mean time between two random partitions (uniform in 0..2×); must be
    /// positive. Chaos: 8 s.
    pub interval: Duration,
    /// Longest partition (uniform in 0..=max). Chaos: 8 s, so some outlast
    /// [`FaultConfig::connection_timeout`].
    pub max_duration: Duration,
    /// Share of random partitions that cut one direction only. Chaos: 0.3.
    pub one_way_probability: f64,
    /// Share that isolate one host from all others. Chaos: 0.3.
    pub isolate_probability: f64,
    /// What a connection attempt across a partition sees. Default: `Either`.
    pub connect: ConnectFailure,
}

/// What a failed connection attempt looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// `ConnectionRefused` after one round trip.
    Refuse,
    /// No answer: the connect future stays pending until the caller's own
    /// timeout drops it (a SYN into a black hole).
    Hang,
    /// Refuse or hang, half and half.
    Either,
}

/// Random close on reads and writes: FoundationDB's `Sim2Conn::rollRandomClose`.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseFaults {
    /// Inject random closes. Chaos: on.
    pub enabled: bool,
    /// Probability per read or write call. Chaos: 0.0005.
    pub probability: f64,
    /// No random close sooner than this after the previous one, anywhere.
    /// Chaos: 2 s (FoundationDB's `connectionFailuresDisableDuration`).
    pub cooldown: Duration,
    /// Share of closes that are RST (the rest FIN). Chaos: 0.5.
    pub rst_probability: f64,
    /// Share of closes that close both ends at once (the rest tell only the
    /// peer: the asymmetric case). Chaos: 0.5.
    pub both_sides_probability: f64,
    /// Share of closes where the read or write that rolled the close fails at
    /// once. In the rest, a close that tells only the peer leaves the rolling
    /// end unaware, as when a real RST is lost: the bytes it already received
    /// stay readable, then its reads wait and its writes are discarded by the
    /// closed peer, until its own liveness check (a ping, a timeout) notices.
    /// Chaos: 0.5.
    pub fail_call_probability: f64,
}

/// Bit flips in delivered segments: FoundationDB's corrupted packets.
#[derive(Debug, Clone, PartialEq)]
pub struct BitFlipFaults {
    /// Inject bit flips. Chaos: on. Never on stable connections.
    pub enabled: bool,
    /// Probability per delivered segment. Chaos: 0.001.
    pub probability: f64,
}

/// Short reads and writes (beyond FoundationDB, whose sim2 also cuts writes).
#[derive(Debug, Clone, PartialEq)]
pub struct ShortIoFaults {
    /// Inject short reads and writes. Chaos: on.
    pub enabled: bool,
    /// Probability that `poll_write` accepts a random prefix. Chaos: 0.2.
    pub write_probability: f64,
    /// Probability that `poll_read` returns a random part of what is available. Chaos: 0.2.
    pub read_probability: f64,
}

/// Connect failures: FoundationDB's `SIM_CONNECT_ERROR_MODE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectFaults {
    /// Inject connect failures. Chaos: on.
    pub enabled: bool,
    /// Probability per connection attempt. Chaos: 0.02.
    pub probability: f64,
    /// How the attempt fails. Chaos: `Either`.
    pub mode: ConnectFailure,
}

/// Packet loss as TCP sees it: a lost segment is retransmitted after a
/// timeout that doubles per loss, so it arrives late (and so does everything
/// behind it). Beyond FoundationDB.
#[derive(Debug, Clone, PartialEq)]
pub struct LossFaults {
    /// Inject loss. Chaos: on.
    pub enabled: bool,
    /// Probability that one transmission of a segment is lost. Chaos: 0.01.
    pub probability: f64,
    /// First retransmission timeout, doubled per further loss. Chaos: 200 ms (Linux `TCP_RTO_MIN`).
    pub retransmit_timeout: Duration,
}

/// Attrition: hosts crash and come back. FoundationDB's `MachineAttrition`
/// and `killProcess` (`KillInstantly`, `RebootAndDelete`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct AttritionFaults {
    /// Crash and restart random restartable hosts. Chaos: on.
    pub enabled: bool,
    /// Mean time between two crashes (uniform in 0..2×); must be positive.
    /// Chaos: 10 s.
    pub interval: Duration,
    /// Hosts down at once, at most. Chaos: 1.
    pub max_down: usize,
    /// Longest wait before the restart (uniform in 0..=max). Chaos: 3 s.
    pub max_restart_delay: Duration,
    /// Share of crashes where the host vanishes (no RST: its peers hold
    /// half-open connections). Chaos: 0.3.
    pub vanish_probability: f64,
    /// Share of crashes that close sockets gracefully (FIN). Chaos: 0.2.
    /// The rest reset them (RST).
    pub graceful_probability: f64,
}

/// Clock drift: FoundationDB's `timer()`, up to `max_drift` ahead of `now()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockFaults {
    /// Drift the per-host clock read by [`timer`](crate::timer). Chaos: on.
    pub enabled: bool,
    /// How far ahead the clock may run. Chaos: 100 ms (FoundationDB's 0.1 s).
    pub max_drift: Duration,
}

/// Buggified delays: FoundationDB's `MAX_BUGGIFIED_DELAY * pow(U, 1000)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BuggifiedDelayFaults {
    /// Let [`buggified_sleep`](crate::buggified_sleep) sleep longer. Chaos: on.
    pub enabled: bool,
    /// Probability that a sleep is lengthened. Chaos: 0.25.
    pub probability: f64,
    /// The longest extra. Chaos: 200 ms (FoundationDB `MAX_BUGGIFIED_DELAY`).
    pub max: Duration,
}

impl Default for FaultConfig {
    /// Same as [`FaultConfig::quiet`].
    fn default() -> Self {
        Self::quiet()
    }
}

impl FaultConfig {
    /// Nothing injected. Latency is the core's: uniform in
    /// `NetConfig::latency` (100 µs..=1 ms), which tokio's 1 ms timer makes an
    /// effectively fixed 1 ms per hop.
    pub fn quiet() -> Self {
        let mut config = Self::chaos();
        config.set_all(false);
        config
    }

    /// Every family on, at FoundationDB-like rates (see each field).
    pub fn chaos() -> Self {
        let ms = Duration::from_millis;
        Self {
            latency: LatencyFaults {
                enabled: true,
                min: Duration::from_micros(100),
                fast: Duration::from_micros(800),
                slow: ms(100),
                slow_probability: 0.001,
                pair_base_max: ms(2),
                jitter_max: Duration::from_micros(300),
            },
            clog: ClogFaults {
                enabled: true,
                interval: ms(4000),
                max_duration: ms(2000),
            },
            partition: PartitionFaults {
                enabled: true,
                interval: ms(8000),
                max_duration: ms(8000),
                one_way_probability: 0.3,
                isolate_probability: 0.3,
                connect: ConnectFailure::Either,
            },
            random_close: CloseFaults {
                enabled: true,
                probability: 0.0005,
                cooldown: ms(2000),
                rst_probability: 0.5,
                both_sides_probability: 0.5,
                fail_call_probability: 0.5,
            },
            bit_flip: BitFlipFaults {
                enabled: true,
                probability: 0.001,
            },
            short_io: ShortIoFaults {
                enabled: true,
                write_probability: 0.2,
                read_probability: 0.2,
            },
            connect: ConnectFaults {
                enabled: true,
                probability: 0.02,
                mode: ConnectFailure::Either,
            },
            loss: LossFaults {
                enabled: true,
                probability: 0.01,
                retransmit_timeout: ms(200),
            },
            attrition: AttritionFaults {
                enabled: true,
                interval: ms(10_000),
                max_down: 1,
                max_restart_delay: ms(3000),
                vanish_probability: 0.3,
                graceful_probability: 0.2,
            },
            clock: ClockFaults {
                enabled: true,
                max_drift: ms(100),
            },
            buggified_delay: BuggifiedDelayFaults {
                enabled: true,
                probability: 0.25,
                max: ms(200),
            },
            connection_timeout: ms(5000),
            stable_hosts: Vec::new(),
        }
    }

    /// [`chaos`](Self::chaos) less the one family real TCP lets through
    /// undetected, bit flips: the preset for stock protocols that trust TCP's
    /// byte stream and carry no checksum of their own (HTTP/1.1, HTTP/2,
    /// gRPC, most database wire protocols).
    ///
    /// Under `chaos()` such a protocol can deliver a corrupted body as a
    /// success (an HTTP `200 OK` with flipped bytes), which is TCP's real
    /// behaviour on a bad link but rarely the bug a test hunts. Everything
    /// else stays: latency, clogs, partitions, random closes, short reads and
    /// writes, connect failures, loss, crashes, clock drift and buggified
    /// delays. Swarm mode composes with it (`chaos_without_corruption().swarm(seed)`).
    pub fn chaos_without_corruption() -> Self {
        let mut config = Self::chaos();
        config.bit_flip.enabled = false;
        config
    }

    /// Swarm testing: starting from `self` (usually [`chaos`](Self::chaos)),
    /// draws from `seed` which families are on for this iteration. Each
    /// family is off, on at its configured rates, or on hard (probabilities
    /// ×10, intervals ÷4), with chances 1/3 each; one seed in eight runs with
    /// every family off. The draw uses its own stream: it does not perturb
    /// any other draw of the iteration.
    pub fn swarm(mut self, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(derive_seed(seed, &[SWARM_STREAM]));
        if rng.random_range(0..8u32) == 0 {
            self.set_all(false);
            return self;
        }
        let mut draw = || rng.random_range(0..3u32);
        let hard = |p: &mut f64| *p = (*p * 10.0).min(0.9);
        // Never down to zero: an interval must stay positive.
        let quicker = |d: &mut Duration| *d = (*d / 4).max(Duration::from_nanos(1));
        let mut level = draw();
        self.latency.enabled &= level > 0;
        if level == 2 {
            self.latency.slow_probability = (self.latency.slow_probability * 10.0).min(0.9);
        }
        level = draw();
        self.clog.enabled &= level > 0;
        if level == 2 {
            quicker(&mut self.clog.interval);
        }
        level = draw();
        self.partition.enabled &= level > 0;
        if level == 2 {
            quicker(&mut self.partition.interval);
        }
        level = draw();
        self.random_close.enabled &= level > 0;
        if level == 2 {
            hard(&mut self.random_close.probability);
            quicker(&mut self.random_close.cooldown);
        }
        level = draw();
        self.bit_flip.enabled &= level > 0;
        if level == 2 {
            hard(&mut self.bit_flip.probability);
        }
        level = draw();
        self.short_io.enabled &= level > 0;
        if level == 2 {
            self.short_io.read_probability = 0.9;
            self.short_io.write_probability = 0.9;
        }
        level = draw();
        self.connect.enabled &= level > 0;
        if level == 2 {
            hard(&mut self.connect.probability);
        }
        level = draw();
        self.loss.enabled &= level > 0;
        if level == 2 {
            hard(&mut self.loss.probability);
        }
        level = draw();
        self.attrition.enabled &= level > 0;
        if level == 2 {
            quicker(&mut self.attrition.interval);
        }
        level = draw();
        self.clock.enabled &= level > 0;
        level = draw();
        self.buggified_delay.enabled &= level > 0;
        if level == 2 {
            self.buggified_delay.probability = 0.9;
        }
        self
    }

    /// Turns every family on or off, keeping the rates.
    pub fn set_all(&mut self, enabled: bool) {
        self.latency.enabled = enabled;
        self.clog.enabled = enabled;
        self.partition.enabled = enabled;
        self.random_close.enabled = enabled;
        self.bit_flip.enabled = enabled;
        self.short_io.enabled = enabled;
        self.connect.enabled = enabled;
        self.loss.enabled = enabled;
        self.attrition.enabled = enabled;
        self.clock.enabled = enabled;
        self.buggified_delay.enabled = enabled;
    }

    /// Marks `ip` stable: exempt from every random fault.
    pub fn stable(mut self, ip: Ipv4Addr) -> Self {
        self.stable_hosts.push(ip);
        self
    }

    /// Checks that every probability is in 0..=1, the latency bounds are
    /// ordered, and the connection timeout and the scheduled faults'
    /// intervals are positive. A duration too long to add to an instant is
    /// valid and means "never".
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        let invalid = |field, problem| Err(crate::ConfigError { field, problem });
        let probabilities = [
            ("latency.slow_probability", self.latency.slow_probability),
            (
                "partition.one_way_probability",
                self.partition.one_way_probability,
            ),
            (
                "partition.isolate_probability",
                self.partition.isolate_probability,
            ),
            ("random_close.probability", self.random_close.probability),
            (
                "random_close.rst_probability",
                self.random_close.rst_probability,
            ),
            (
                "random_close.both_sides_probability",
                self.random_close.both_sides_probability,
            ),
            (
                "random_close.fail_call_probability",
                self.random_close.fail_call_probability,
            ),
            ("bit_flip.probability", self.bit_flip.probability),
            (
                "short_io.write_probability",
                self.short_io.write_probability,
            ),
            ("short_io.read_probability", self.short_io.read_probability),
            ("connect.probability", self.connect.probability),
            ("loss.probability", self.loss.probability),
            (
                "attrition.vanish_probability",
                self.attrition.vanish_probability,
            ),
            (
                "attrition.graceful_probability",
                self.attrition.graceful_probability,
            ),
            (
                "buggified_delay.probability",
                self.buggified_delay.probability,
            ),
        ];
        for (field, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return invalid(field, "must be a probability in 0..=1");
            }
        }
        if self.loss.enabled && self.loss.probability >= 1.0 {
            return invalid("loss.probability", "must be below 1 (every packet lost)");
        }
        if self.latency.min > self.latency.fast || self.latency.min > self.latency.slow {
            return invalid("latency.min", "must not exceed `fast` and `slow`");
        }
        if self.connection_timeout.is_zero() {
            return invalid("connection_timeout", "must be positive");
        }
        // A zero interval would inject faults back to back without letting
        // simulated time move: the iteration would spin in wall time.
        let intervals = [
            ("clog.interval", self.clog.interval),
            ("partition.interval", self.partition.interval),
            ("attrition.interval", self.attrition.interval),
        ];
        for (field, interval) in intervals {
            if interval.is_zero() {
                return invalid(field, "must be positive");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        assert_eq!(FaultConfig::quiet().validate(), Ok(()));
        assert_eq!(FaultConfig::chaos().validate(), Ok(()));
        for seed in 0..64 {
            assert_eq!(FaultConfig::chaos().swarm(seed).validate(), Ok(()));
        }
    }

    #[test]
    fn a_zero_interval_of_a_scheduled_fault_is_rejected() {
        let fields = ["clog.interval", "partition.interval", "attrition.interval"];
        for (i, field) in fields.into_iter().enumerate() {
            let mut config = FaultConfig::chaos();
            let interval = [
                &mut config.clog.interval,
                &mut config.partition.interval,
                &mut config.attrition.interval,
            ];
            *interval.into_iter().nth(i).unwrap() = Duration::ZERO;
            assert_eq!(config.validate().map_err(|e| e.field), Err(field));
        }
    }

    #[test]
    fn chaos_without_corruption_is_chaos_without_bit_flips() {
        let stock = FaultConfig::chaos_without_corruption();
        assert!(!stock.bit_flip.enabled);
        let mut chaos = FaultConfig::chaos();
        chaos.bit_flip.enabled = false;
        assert_eq!(stock, chaos);
        assert_eq!(stock.validate(), Ok(()));
    }

    #[test]
    fn swarm_keeps_a_tiny_interval_positive() {
        let mut config = FaultConfig::chaos();
        config.clog.interval = Duration::from_nanos(1);
        for seed in 0..64 {
            assert_eq!(config.clone().swarm(seed).validate(), Ok(()));
        }
    }

    #[test]
    fn swarm_varies_families_across_seeds() {
        let on = |c: &FaultConfig| (c.clog.enabled, c.bit_flip.enabled, c.attrition.enabled);
        let draws: std::collections::BTreeSet<_> = (0..64)
            .map(|s| on(&FaultConfig::chaos().swarm(s)))
            .collect();
        assert!(draws.len() > 4, "swarm should mix families: {draws:?}");
        assert_eq!(FaultConfig::chaos().swarm(5), FaultConfig::chaos().swarm(5));
    }
}
