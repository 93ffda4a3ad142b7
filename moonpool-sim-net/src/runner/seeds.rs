//! Which seeds a run uses and how many iterations it runs.

use std::ops::Range;

use crate::assertions::mix64;

/// Golden-ratio increment of SplitMix64: consecutive indices land far apart.
const SPLITMIX_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Base of [`Seeds::default`]: any fixed value works; this one spells
/// "moonpool" in ASCII.
pub const DEFAULT_BASE_SEED: u64 = 0x6d6f_6f6e_706f_6f6c;

/// Where a run's seeds come from, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeds {
    /// Exactly these seeds (a regression list, or one seed to replay).
    List(Vec<u64>),
    /// The seeds `start..end`, one per iteration (a slice of a sweep).
    Range(Range<u64>),
    /// An endless sequence derived from `base` with [`derive_seed`]:
    /// well-spread seeds, and the same ones every run for the same base.
    Derived {
        /// The base seed.
        base: u64,
    },
}

impl Default for Seeds {
    /// Seeds derived from [`DEFAULT_BASE_SEED`].
    fn default() -> Self {
        Self::Derived {
            base: DEFAULT_BASE_SEED,
        }
    }
}

impl Seeds {
    /// The `index`-th seed, or `None` past the end of a list or range.
    pub fn get(&self, index: u64) -> Option<u64> {
        match self {
            Self::List(seeds) => usize::try_from(index)
                .ok()
                .and_then(|i| seeds.get(i))
                .copied(),
            Self::Range(range) => range
                .start
                .checked_add(index)
                .filter(|seed| range.contains(seed)),
            Self::Derived { base } => Some(derive_seed(*base, index)),
        }
    }

    /// How many seeds there are; `None` for an endless derived sequence.
    pub fn len(&self) -> Option<u64> {
        match self {
            Self::List(seeds) => Some(seeds.len() as u64),
            Self::Range(range) => Some(range.end.saturating_sub(range.start)),
            Self::Derived { .. } => None,
        }
    }

    /// Whether there are no seeds at all.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// The `index`-th seed derived from `base` (SplitMix64's output sequence
/// started at `base`).
pub fn derive_seed(base: u64, index: u64) -> u64 {
    mix64(base.wrapping_add(index.wrapping_add(1).wrapping_mul(SPLITMIX_GAMMA)))
}

/// When a run stops (besides running out of seeds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iterations {
    /// Exactly this many iterations (fewer if the seeds run out).
    Fixed(u64),
    /// Until every registered or declared `sometimes!` has been seen, at
    /// most `max` iterations. Missing coverage fails the run, and so does a
    /// run where no `sometimes!` was evaluated or declared at all (it runs
    /// all `max` iterations: there is nothing to stop on).
    UntilAllSometimes {
        /// Upper bound on iterations.
        max: u64,
    },
}

impl Default for Iterations {
    /// 100 fixed iterations: enough to find common bugs in a test that runs
    /// in seconds; scale with `MOONPOOL_ITERATIONS` for nightly sweeps.
    fn default() -> Self {
        Self::Fixed(100)
    }
}

impl Iterations {
    /// The upper bound on iterations.
    pub fn limit(self) -> u64 {
        match self {
            Self::Fixed(n) | Self::UntilAllSometimes { max: n } => n,
        }
    }

    /// The same stopping rule with a new bound.
    pub fn with_limit(self, limit: u64) -> Self {
        match self {
            Self::Fixed(_) => Self::Fixed(limit),
            Self::UntilAllSometimes { .. } => Self::UntilAllSometimes { max: limit },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_range_end_and_derived_goes_on() {
        let list = Seeds::List(vec![5, 9]);
        assert_eq!(
            (list.get(0), list.get(1), list.get(2)),
            (Some(5), Some(9), None)
        );
        let range = Seeds::Range(10..12);
        assert_eq!(
            (range.get(0), range.get(1), range.get(2)),
            (Some(10), Some(11), None)
        );
        assert_eq!(range.len(), Some(2));
        assert_eq!(Seeds::Range(u64::MAX..u64::MAX).get(0), None);
        let derived = Seeds::Derived { base: 1 };
        assert_eq!(derived.len(), None);
        assert!(derived.get(1_000_000).is_some());
    }

    #[test]
    fn derived_seeds_are_stable_and_distinct() {
        let seeds: Vec<u64> = (0..1000).map(|i| derive_seed(7, i)).collect();
        let mut sorted = seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
        assert_eq!(seeds[3], derive_seed(7, 3));
        assert_ne!(derive_seed(7, 0), derive_seed(8, 0));
    }

    #[test]
    fn with_limit_keeps_the_stopping_rule() {
        assert_eq!(Iterations::Fixed(3).with_limit(9), Iterations::Fixed(9));
        assert_eq!(
            Iterations::UntilAllSometimes { max: 3 }.with_limit(9),
            Iterations::UntilAllSometimes { max: 9 }
        );
    }
}
