//! Randomized knobs: configurations drawn from documented ranges, for
//! simulation.
//!
//! FoundationDB randomizes many of its knobs in simulation
//! (`if (randomize && BUGGIFY) KNOB = …`), so code paths that only another
//! setting reaches — a tiny queue that applies backpressure at every call,
//! a ping interval shorter than a round trip under load, a backoff that
//! grows fast — are tested by every sweep, not only by the rare test that
//! thinks of them. Each configuration of the stack has a `randomize`
//! method that does the same:
//! [`TransportConfig::randomize`](crate::transport::TransportConfig::randomize),
//! [`PeerConfig::randomize`](crate::peer::PeerConfig::randomize),
//! [`AcceptConfig::randomize`](crate::transport::AcceptConfig::randomize),
//! [`EndpointConfig::randomize`](crate::transport::EndpointConfig::randomize)
//! and [`BackoffConfig::randomize`](crate::backoff::BackoffConfig::randomize).
//!
//! Each knob is redrawn with probability [`KNOB_PROBABILITY`] and otherwise
//! keeps its value, so a sweep runs the defaults too, and a failing seed
//! usually differs from them in a few knobs only. Each range is documented
//! beside the draw, with the reason for its ends; every drawn configuration
//! passes its `validate`. Counts and durations are drawn log-uniformly
//! (first a power of two, then a value of that binade), so small values —
//! where the interesting behaviour is — come up as often as large ones.
//!
//! The randomness is the caller's: in a simulation, an RNG derived from the
//! seed (moonpool-sim-net's `knobs` module draws each configuration once per
//! iteration and writes it into the report), so a seed replays with its
//! knobs.
//!
//! ```
//! use moonpool_tower::transport::TransportConfig;
//! use rand::{SeedableRng, rngs::StdRng};
//!
//! let mut rng = StdRng::seed_from_u64(7);
//! let config = TransportConfig::default().randomize(&mut rng);
//! assert_eq!(config.validate(), Ok(()));
//! ```

use std::ops::RangeInclusive;
use std::time::Duration;

use rand::{Rng, RngExt};

/// The probability with which `randomize` redraws each knob: 0.25, as
/// `buggify!` fires, so a seed keeps about three quarters of the defaults
/// and a sweep still runs plenty of seeds close to production.
pub const KNOB_PROBABILITY: f64 = 0.25;

/// Redraws knobs, each with probability [`KNOB_PROBABILITY`].
pub(crate) struct KnobDraw<'r, R: ?Sized> {
    rng: &'r mut R,
}

impl<'r, R: Rng + ?Sized> KnobDraw<'r, R> {
    pub(crate) fn new(rng: &'r mut R) -> Self {
        Self { rng }
    }

    /// Whether the next knob is redrawn.
    fn redraw(&mut self) -> bool {
        self.rng.random_bool(KNOB_PROBABILITY)
    }

    /// Redraws `knob` log-uniformly from `range`.
    pub(crate) fn count(&mut self, knob: &mut usize, range: RangeInclusive<usize>) {
        if self.redraw() {
            let (low, high) = (*range.start() as u64, *range.end() as u64);
            *knob = usize::try_from(log_uniform(self.rng, low, high)).unwrap_or(*range.end());
        }
    }

    /// Redraws `knob` log-uniformly from `range`.
    pub(crate) fn count_u32(&mut self, knob: &mut u32, range: RangeInclusive<u32>) {
        if self.redraw() {
            let drawn = log_uniform(self.rng, (*range.start()).into(), (*range.end()).into());
            *knob = u32::try_from(drawn).unwrap_or(*range.end());
        }
    }

    /// Redraws `knob` log-uniformly from `range`, in whole milliseconds
    /// (at least 1 ms) so a report reads `183ms`, not `183.130242ms`.
    pub(crate) fn duration(&mut self, knob: &mut Duration, range: RangeInclusive<Duration>) {
        if self.redraw() {
            let millis = |d: &Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
            *knob = Duration::from_millis(log_uniform(
                self.rng,
                millis(range.start()),
                millis(range.end()),
            ));
        }
    }

    /// Redraws `knob` uniformly among the tenths `range` spans (`10..=30`
    /// is 1.0, 1.1, …, 3.0): a decimal grid keeps drawn factors readable
    /// in a report.
    pub(crate) fn tenths(&mut self, knob: &mut f64, range: RangeInclusive<u32>) {
        if self.redraw() {
            *knob = f64::from(self.rng.random_range(range)) / 10.0;
        }
    }
}

/// A value of `low..=high` drawn log-uniformly: a binade (the values of one
/// bit length) uniformly among those the range touches, then a value of
/// the range uniformly within it. Integers only, so a draw is the same on
/// every platform.
fn log_uniform<R: Rng + ?Sized>(rng: &mut R, low: u64, high: u64) -> u64 {
    let (low, high) = (low.min(high), low.max(high));
    let bits = |x: u64| u64::BITS - x.leading_zeros();
    let binade = rng.random_range(bits(low)..=bits(high));
    let start = match binade {
        0 => 0,
        b => 1u64 << (b - 1),
    };
    let end = match binade {
        0 => 0,
        64 => u64::MAX,
        b => (1u64 << b) - 1,
    };
    rng.random_range(start.max(low)..=end.min(high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn log_uniform_draws_stay_in_range_and_reach_both_ends_binades() {
        let mut rng = StdRng::seed_from_u64(1);
        let draws: Vec<u64> = (0..2000).map(|_| log_uniform(&mut rng, 1, 1024)).collect();
        assert!(draws.iter().all(|d| (1..=1024).contains(d)));
        assert!(draws.iter().any(|&d| d < 4), "small values are drawn");
        assert!(draws.iter().any(|&d| d >= 512), "large values are drawn");
        assert_eq!(log_uniform(&mut rng, 5, 5), 5);
        // The widest range neither overflows nor favours large values.
        let wide: Vec<u64> = (0..100)
            .map(|_| log_uniform(&mut rng, 0, u64::MAX))
            .collect();
        assert!(wide.iter().any(|&d| d < 1 << 32) && wide.iter().any(|&d| d >= 1 << 32));
    }

    #[test]
    fn randomized_transport_configs_are_valid_and_keep_some_defaults() {
        use crate::transport::TransportConfig;
        let default = TransportConfig::default();
        let (mut changed, mut kept, mut tiny_queue) = (0, 0, 0);
        for seed in 0..500 {
            let config = default.clone().randomize(&mut StdRng::seed_from_u64(seed));
            assert_eq!(config.validate(), Ok(()), "seed {seed}: {config:?}");
            assert!((1..=1024).contains(&config.peer.queue_capacity));
            assert!(config.peer.reconnect.cap >= config.peer.reconnect.initial);
            assert!(
                config.endpoint.max_handler_tasks_per_peer <= config.endpoint.max_handler_tasks
            );
            assert!(config.accept.max_anonymous_peers >= 64);
            changed += usize::from(config.peer.ping_interval != default.peer.ping_interval);
            kept += usize::from(config.peer.ping_interval == default.peer.ping_interval);
            tiny_queue += usize::from(config.peer.queue_capacity < 16);
        }
        assert!(changed > 50 && kept > 250, "changed {changed}, kept {kept}");
        assert!(tiny_queue > 10, "tiny queues drawn {tiny_queue} times");
        let again = default.clone().randomize(&mut StdRng::seed_from_u64(3));
        assert_eq!(again, default.randomize(&mut StdRng::seed_from_u64(3)));
    }

    #[test]
    fn each_knob_is_redrawn_only_sometimes() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut redrawn = 0;
        for _ in 0..1000 {
            let mut knob = 0usize;
            KnobDraw::new(&mut rng).count(&mut knob, 1..=8);
            redrawn += usize::from(knob != 0);
        }
        assert!((150..350).contains(&redrawn), "redrawn {redrawn} of 1000");
    }
}
