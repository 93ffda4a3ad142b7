//! The fault state of one iteration: the configuration, one RNG stream per
//! family (so toggling one family does not perturb another's draws), the
//! active clogs and partitions, stable marks, per-host clocks and the counts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::config::{ConnectFailure, FaultConfig};
use super::kind::FaultCounts;
use crate::host::HostId;
use crate::instant::later;
use crate::seed::derive_seed;

/// Tags the fault streams so they never coincide with host or net streams.
const FAULT_STREAM: u64 = 0x6661_756c_745f_7273;

/// A stall (clog) or cut (partition) of the packets from `from` to `to`;
/// `None` matches any host.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block {
    pub(crate) from: Option<HostId>,
    pub(crate) to: Option<HostId>,
    pub(crate) until: Instant,
    pub(crate) partition: bool,
}

/// What a random close does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CloseRoll {
    pub(crate) rst: bool,
    pub(crate) both: bool,
    pub(crate) fail_now: bool,
}

/// One RNG per family.
struct Streams {
    latency: StdRng,
    close: StdRng,
    flip: StdRng,
    short: StdRng,
    connect: StdRng,
    loss: StdRng,
    clock: StdRng,
    delay: StdRng,
    pub(crate) chaos: StdRng,
}

pub(crate) struct FaultState {
    pub(crate) config: FaultConfig,
    pub(crate) counts: FaultCounts,
    rng: Streams,
    pair_base: BTreeMap<(HostId, HostId), Duration>,
    blocks: Vec<Block>,
    /// Some block was ever created: delivery must check for holds from now on.
    pub(crate) holds_possible: bool,
    pub(crate) stable: BTreeSet<HostId>,
    last_close: Option<Instant>,
    timers: BTreeMap<HostId, Instant>,
    /// Any per-packet or per-call family is on (the quiet fast path skips all).
    pub(crate) active: bool,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl FaultState {
    pub(crate) fn new(config: FaultConfig, seed: u64) -> Self {
        let stream =
            |family: u64| StdRng::seed_from_u64(derive_seed(seed, &[FAULT_STREAM, family]));
        let c = &config;
        let active = c.latency.enabled
            || c.random_close.enabled
            || c.bit_flip.enabled
            || c.short_io.enabled
            || c.connect.enabled
            || c.loss.enabled;
        Self {
            rng: Streams {
                latency: stream(1),
                close: stream(2),
                flip: stream(3),
                short: stream(4),
                connect: stream(5),
                loss: stream(6),
                clock: stream(7),
                delay: stream(8),
                chaos: stream(9),
            },
            counts: FaultCounts::default(),
            pair_base: BTreeMap::new(),
            blocks: Vec::new(),
            holds_possible: false,
            stable: BTreeSet::new(),
            last_close: None,
            timers: BTreeMap::new(),
            active,
            config,
        }
    }

    pub(crate) fn chaos_rng(&mut self) -> &mut StdRng {
        &mut self.rng.chaos
    }

    pub(crate) fn is_stable(&self, a: HostId, b: HostId) -> bool {
        !self.stable.is_empty() && (self.stable.contains(&a) || self.stable.contains(&b))
    }

    /// FoundationDB's latency: uniform in min..fast, or min..slow with the
    /// slow probability; plus the pair's base latency and jitter. Returns the
    /// latency and whether it took the slow tail.
    pub(crate) fn latency(&mut self, src: HostId, dst: HostId) -> (Duration, bool) {
        let c = &self.config.latency;
        let rng = &mut self.rng.latency;
        let slow = rng.random_bool(c.slow_probability);
        let top = if slow { c.slow } else { c.fast };
        let base = rng.random_range(nanos(c.min)..=nanos(top).max(nanos(c.min)));
        let pair = if src <= dst { (src, dst) } else { (dst, src) };
        let max_pair = nanos(c.pair_base_max);
        let pair_base = *self
            .pair_base
            .entry(pair)
            .or_insert_with(|| Duration::from_nanos(rng.random_range(0..=max_pair)));
        let jitter = rng.random_range(0..=nanos(c.jitter_max));
        (
            Duration::from_nanos(base.saturating_add(jitter)) + pair_base,
            slow,
        )
    }

    /// Retransmission delay of one segment: each loss (with the loss
    /// probability) adds a retransmission timeout, doubling. Returns the
    /// delay and the number of losses.
    pub(crate) fn loss_delay(&mut self) -> (Duration, u32) {
        let c = &self.config.loss;
        let mut delay = Duration::ZERO;
        let mut losses = 0u32;
        let mut rto = c.retransmit_timeout;
        while delay <= self.config.connection_timeout && self.rng.loss.random_bool(c.probability) {
            delay = delay.saturating_add(rto);
            rto = rto.saturating_mul(2);
            losses += 1;
        }
        (delay, losses)
    }

    pub(crate) fn roll_close(&mut self, now: Instant) -> Option<CloseRoll> {
        let c = &self.config.random_close;
        if self
            .last_close
            .is_some_and(|last| now.saturating_duration_since(last) < c.cooldown)
        {
            return None;
        }
        let rng = &mut self.rng.close;
        if !rng.random_bool(c.probability) {
            return None;
        }
        self.last_close = Some(now);
        Some(CloseRoll {
            rst: rng.random_bool(c.rst_probability),
            both: rng.random_bool(c.both_sides_probability),
            fail_now: rng.random_bool(c.fail_call_probability),
        })
    }

    /// Flips 1 to 32 bits of `data` (count power-law distributed, as
    /// FoundationDB: `32 - floor(log2(u32))`), or returns None.
    pub(crate) fn maybe_flip(&mut self, data: &Bytes) -> Option<Bytes> {
        let rng = &mut self.rng.flip;
        if data.is_empty() || !rng.random_bool(self.config.bit_flip.probability) {
            return None;
        }
        let draw: u32 = rng.random_range(1..=u32::MAX);
        let bits = 32 - draw.ilog2();
        let mut bytes = BytesMut::from(&data[..]);
        let total_bits = bytes.len() * 8;
        for _ in 0..bits {
            let bit = rng.random_range(0..total_bits);
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
        Some(bytes.freeze())
    }

    /// A short length in 1..len with the given probability, or None.
    pub(crate) fn short(&mut self, len: usize, write: bool) -> Option<usize> {
        let c = &self.config.short_io;
        let p = if write {
            c.write_probability
        } else {
            c.read_probability
        };
        if len <= 1 || !self.rng.short.random_bool(p) {
            return None;
        }
        Some(self.rng.short.random_range(1..len))
    }

    /// Whether a connection attempt fails, and how (true: refused).
    pub(crate) fn roll_connect(&mut self) -> Option<bool> {
        let c = &self.config.connect;
        if !self.rng.connect.random_bool(c.probability) {
            return None;
        }
        Some(self.refuse(c.mode))
    }

    /// Whether a failing connect is refused (true) or hangs (false).
    pub(crate) fn refuse(&mut self, mode: ConnectFailure) -> bool {
        match mode {
            ConnectFailure::Refuse => true,
            ConnectFailure::Hang => false,
            ConnectFailure::Either => self.rng.connect.random_bool(0.5),
        }
    }

    pub(crate) fn add_block(&mut self, block: Block) {
        self.holds_possible = true;
        self.blocks.push(block);
    }

    /// Removes every clog and partition.
    pub(crate) fn clear_blocks(&mut self) {
        self.blocks.clear();
    }

    /// The latest end of the blocks on `src -> dst` now, and whether any of
    /// them is a partition. Expired blocks are dropped.
    pub(crate) fn blocked(
        &mut self,
        src: HostId,
        dst: HostId,
        now: Instant,
    ) -> Option<(Instant, bool)> {
        if src == dst {
            return None;
        }
        self.blocks.retain(|block| block.until > now);
        let mut found: Option<(Instant, bool)> = None;
        for block in &self.blocks {
            let hit = block.from.is_none_or(|h| h == src) && block.to.is_none_or(|h| h == dst);
            if hit {
                let (until, partition) = found.unwrap_or((now, false));
                found = Some((until.max(block.until), partition || block.partition));
            }
        }
        found
    }

    /// FoundationDB's `timer()`: per host, monotonic, creeping up to
    /// `max_drift` ahead of `now`.
    pub(crate) fn timer(&mut self, host: HostId, now: Instant) -> (Instant, bool) {
        if !self.config.clock.enabled {
            return (now, false);
        }
        let max = self.config.clock.max_drift;
        let timer = self.timers.entry(host).or_insert(now);
        let base = (*timer).max(now);
        let room = later(now, max).saturating_duration_since(base);
        let step = room.mul_f64(self.rng.clock.random::<f64>() / 2.0);
        *timer = base + step;
        (*timer, *timer > now)
    }

    /// FoundationDB's buggified delay: with the probability, `max * U^1000`.
    pub(crate) fn buggified_extra(&mut self) -> Option<Duration> {
        let c = &self.config.buggified_delay;
        if !c.enabled || !self.rng.delay.random_bool(c.probability) {
            return None;
        }
        let u: f64 = self.rng.delay.random();
        // `mul_f64`, without its panic when `max` is near `Duration::MAX`.
        Some(Duration::try_from_secs_f64(u.powi(1000) * c.max.as_secs_f64()).unwrap_or(c.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(tweak: impl FnOnce(&mut FaultConfig)) -> FaultState {
        let mut config = FaultConfig::quiet();
        tweak(&mut config);
        FaultState::new(config, 9)
    }

    #[test]
    fn bit_flips_are_one_to_32_bits_power_law_as_foundationdb() {
        let mut faults = state(|c| c.bit_flip.probability = 1.0);
        let data = Bytes::from(vec![0u8; 64]);
        let mut histogram = [0u32; 33];
        for _ in 0..4000 {
            let flipped = faults.maybe_flip(&data).unwrap();
            let bits: u32 = flipped.iter().map(|b| b.count_ones()).sum();
            // Two flips may hit the same bit and cancel: at most `bits` set.
            histogram[bits as usize] += 1;
        }
        assert!(
            histogram[1] > 1700 && histogram[1] < 2300,
            "about half flip one bit"
        );
        assert!(
            histogram[2] > 800 && histogram[2] < 1200,
            "about a quarter flip two"
        );
        assert!(
            histogram[9..].iter().sum::<u32>() < 40,
            "many bits are rare"
        );
    }

    #[test]
    fn blocks_are_directional_and_expire() {
        let mut faults = state(|_| {});
        let (a, b, c) = (
            HostId::for_tests(0),
            HostId::for_tests(1),
            HostId::for_tests(2),
        );
        let now = Instant::now();
        let until = now + Duration::from_secs(1);
        faults.add_block(Block {
            from: Some(a),
            to: None,
            until,
            partition: false,
        });
        faults.add_block(Block {
            from: Some(b),
            to: Some(c),
            until,
            partition: true,
        });
        assert_eq!(
            faults.blocked(a, b, now),
            Some((until, false)),
            "a's send side"
        );
        assert_eq!(faults.blocked(b, a, now), None, "only a's send side");
        assert_eq!(faults.blocked(b, c, now), Some((until, true)));
        assert_eq!(faults.blocked(c, b, now), None, "one way");
        assert_eq!(faults.blocked(a, a, now), None, "loopback never blocks");
        assert_eq!(faults.blocked(a, b, until), None, "expired at its end");
    }

    #[test]
    fn toggling_one_family_does_not_change_anothers_draws() {
        let mut both = state(|c| {
            c.short_io.write_probability = 0.5;
            c.bit_flip.probability = 0.5;
        });
        let mut short_only = state(|c| c.short_io.write_probability = 0.5);
        let data = Bytes::from_static(b"payload");
        let draws = |f: &mut FaultState, flip: bool| -> Vec<Option<usize>> {
            (0..200)
                .map(|_| {
                    if flip {
                        let _ = f.maybe_flip(&data);
                    }
                    f.short(100, true)
                })
                .collect()
        };
        assert_eq!(draws(&mut both, true), draws(&mut short_only, false));
    }
}
