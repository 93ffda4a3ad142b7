//! The numbers that shape a backoff schedule, and their validation.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::BackoffConfigError;
use crate::knobs::KnobDraw;

/// How the random part of each sleep is drawn from the attempt's *ceiling*
/// (`min(cap, initial * factor^attempt)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Jitter {
    /// No randomness: every sleep equals its ceiling. Meant for tests and
    /// for single clients; many clients without jitter retry in lockstep.
    None,
    /// "Full jitter" (AWS, *Exponential Backoff and Jitter*): the sleep is
    /// drawn uniformly from `[0, ceiling]`, so it never exceeds `cap` and
    /// stays spread out once the ceiling has reached `cap`.
    Full,
    /// FoundationDB style: the sleep is `ceiling * m` with `m` drawn
    /// uniformly from `[low, high]`, so a sleep may exceed `cap` by the
    /// factor `high` (at most `cap * high`) and stays spread out at the cap.
    Proportional {
        /// Smallest multiplier (FoundationDB: 0.9). Finite, `>= 0`.
        low: f64,
        /// Largest multiplier (FoundationDB: 1.1). Finite, `>= low`, `> 0`.
        high: f64,
    },
}

/// The shape of a jittered exponential backoff schedule.
///
/// Attempt `k` (counting from 0 since the last reset) sleeps a jittered
/// amount of its *ceiling* `min(cap, initial * factor^k)`; see [`Jitter`]
/// for how the sleep is drawn from the ceiling. Fields are public so a
/// style can be adjusted with struct-update syntax:
///
/// ```
/// use std::time::Duration;
/// use moonpool_tower::backoff::BackoffConfig;
///
/// let config = BackoffConfig {
///     cap: Duration::from_secs(2),
///     ..BackoffConfig::foundationdb()
/// };
/// assert!(config.validate().is_ok());
/// ```
///
/// The config is checked ([`validate`](Self::validate)) by every constructor
/// that takes one; an invalid config never produces a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BackoffConfig {
    /// Ceiling of the first sleep. Must be greater than zero.
    pub initial: Duration,
    /// Growth of the ceiling per attempt. Finite, at least 1 (1 keeps the
    /// ceiling constant).
    pub factor: f64,
    /// Largest ceiling. Must be at least `initial`.
    pub cap: Duration,
    /// How each sleep is drawn from its ceiling.
    pub jitter: Jitter,
}

impl BackoffConfig {
    /// FoundationDB's reconnection schedule (`flow/Knobs`), the default.
    ///
    /// - `initial`: 50 ms (`INITIAL_RECONNECTION_TIME`): short enough that a
    ///   restarted process is found again quickly;
    /// - `factor`: 1.2 (`RECONNECTION_TIME_GROWTH_RATE`): gentle growth, the
    ///   cap is reached after 13 attempts;
    /// - `cap`: 500 ms (`MAX_RECONNECTION_TIME`): a dead peer costs at most
    ///   two connection attempts per second;
    /// - `jitter`: proportional in `[0.9, 1.1]` (`DELAY_JITTER_OFFSET`,
    ///   `DELAY_JITTER_RANGE`): keeps clients of one server from reconnecting
    ///   in lockstep, so a sleep lies within 10 % of its ceiling (at most
    ///   550 ms).
    ///
    /// FoundationDB also restarts the schedule once a connection has stayed
    /// up 5 s (`RECONNECTION_RESET_TIME`); that belongs to the caller, see
    /// [`ReconnectConfig::reset_after`](crate::reconnect::ReconnectConfig::reset_after).
    pub const fn foundationdb() -> Self {
        Self {
            initial: Duration::from_millis(50),
            factor: 1.2,
            cap: Duration::from_millis(500),
            jitter: Jitter::Proportional {
                low: 0.9,
                high: 1.1,
            },
        }
    }

    /// AWS "full jitter": `sleep = uniform(0, min(cap, initial * 2^attempt))`.
    ///
    /// - `initial`: 50 ms, the same first step as [`foundationdb`](Self::foundationdb);
    /// - `factor`: 2 (classic doubling: load on a struggling server halves
    ///   with every round of retries);
    /// - `cap`: 10 s: long enough to relieve an overloaded server, short
    ///   enough that recovery is noticed within seconds;
    /// - `jitter`: [`Jitter::Full`]: a sleep never exceeds `cap`.
    pub const fn full_jitter() -> Self {
        Self {
            initial: Duration::from_millis(50),
            factor: 2.0,
            cap: Duration::from_secs(10),
            jitter: Jitter::Full,
        }
    }

    /// Checks that the config yields a sane schedule: `initial > 0`,
    /// `cap >= initial`, `factor` finite and `>= 1`, jitter bounds finite
    /// with `0 <= low <= high` and `high > 0`, and the longest possible sleep
    /// representable in `u64` nanoseconds.
    pub fn validate(&self) -> Result<(), BackoffConfigError> {
        self.max_delay().map(|_| ())
    }

    /// The longest sleep this schedule can ever produce: `cap` for
    /// [`Jitter::None`] and [`Jitter::Full`], `cap * high` for
    /// [`Jitter::Proportional`]. Fails exactly when [`validate`](Self::validate) fails.
    pub fn max_delay(&self) -> Result<Duration, BackoffConfigError> {
        if self.initial.is_zero() {
            return Err(BackoffConfigError::ZeroInitial);
        }
        if self.cap < self.initial {
            return Err(BackoffConfigError::CapBelowInitial {
                initial: self.initial,
                cap: self.cap,
            });
        }
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err(BackoffConfigError::InvalidFactor {
                factor: self.factor,
            });
        }
        let high = match self.jitter {
            Jitter::None | Jitter::Full => 1.0,
            Jitter::Proportional { low, high } => {
                let sane =
                    low.is_finite() && high.is_finite() && low >= 0.0 && low <= high && high > 0.0;
                if !sane {
                    return Err(BackoffConfigError::InvalidJitterBounds { low, high });
                }
                high
            }
        };
        let overflow = BackoffConfigError::DelayOverflow {
            cap: self.cap,
            high,
        };
        let longest = Duration::try_from_secs_f64(self.cap.as_secs_f64() * high)
            .map_err(|_| overflow)?
            // The f64 round trip may lose the last nanoseconds of `cap`.
            .max(if high >= 1.0 {
                self.cap
            } else {
                Duration::ZERO
            });
        if longest > Duration::from_nanos(u64::MAX) {
            return Err(overflow);
        }
        Ok(longest)
    }
}

impl BackoffConfig {
    /// This schedule with some of its numbers redrawn for a simulation (see
    /// [`crate::knobs`]); the result always passes [`validate`](Self::validate).
    ///
    /// | knob | range | why |
    /// | --- | --- | --- |
    /// | `initial` | 1 ms ..= 500 ms | from reconnecting almost at once (a storm of attempts) to the default cap |
    /// | `factor` | 1.0 ..= 3.0, by 0.1 | from a constant delay to a fast climb to the cap |
    /// | `cap` | `initial` ..= 5 s | from no growth at all to ten times the default cap |
    ///
    /// `jitter` is kept: it decides whether clients reconnect in lockstep,
    /// a property of the deployment rather than a tuning.
    pub fn randomize<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        let mut draw = KnobDraw::new(rng);
        draw.duration(
            &mut self.initial,
            Duration::from_millis(1)..=Duration::from_millis(500),
        );
        draw.tenths(&mut self.factor, 10..=30);
        draw.duration(&mut self.cap, self.initial..=Duration::from_secs(5));
        // A kept cap may lie below a drawn initial delay.
        self.cap = self.cap.max(self.initial);
        self
    }
}

impl Default for BackoffConfig {
    /// [`BackoffConfig::foundationdb`]: the schedule the peer's reconnect
    /// loop uses.
    fn default() -> Self {
        Self::foundationdb()
    }
}
