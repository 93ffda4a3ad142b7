//! One backoff session: the sequence of sleeps of one series of attempts.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tower::retry::backoff::Backoff;

use super::{BackoffConfig, BackoffConfigError, Jitter, JitteredBackoff};

/// One backoff session (tower's [`Backoff`]): the jittered delays of one
/// series of attempts, made by [`JitteredBackoff`].
///
/// Guarantees:
/// - the `k`-th delay since the last [`reset`](Self::reset) is drawn from the
///   ceiling `min(cap, initial * factor^k)` as the config's [`Jitter`] says,
///   and never exceeds [`max_delay`](Self::max_delay);
/// - the jitter keeps applying once the ceiling has reached `cap`;
/// - the delays depend only on the config and the RNG the session was given
///   (deterministic for a seed); nothing reads the clock or the OS.
///
/// Use it from tower code through [`Backoff::next_backoff`] (a
/// [`tokio::time::Sleep`], so it runs on tokio's paused clock in tests and
/// simulation), or synchronously through [`next_delay`](Self::next_delay)
/// and [`reset`](Self::reset).
///
/// `Clone` follows tower's [`Backoff`] contract: the clone is a *fresh*
/// session (attempt 0) with its own RNG stream, derived from the same parent
/// RNG as the sessions of the [`JitteredBackoff`] that made this one — so
/// clones never replay each other's jitter.
///
/// ```
/// use std::time::Duration;
/// use moonpool_tower::backoff::{BackoffConfig, JitteredBackoffSession};
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let config = BackoffConfig::foundationdb();
/// let mut session = JitteredBackoffSession::new(config, StdRng::seed_from_u64(3))?;
/// let first = session.next_delay();
/// assert!(first >= Duration::from_millis(45) && first <= Duration::from_millis(55));
/// session.reset();
/// assert_eq!(session.attempt(), 0);
/// # Ok::<(), moonpool_tower::backoff::BackoffConfigError>(())
/// ```
pub struct JitteredBackoffSession<R = StdRng> {
    config: BackoffConfig,
    max_delay: Duration,
    ceiling: Duration,
    attempt: u32,
    rng: R,
    parent: Arc<Mutex<R>>,
}

impl<R: Rng + SeedableRng> JitteredBackoffSession<R> {
    /// A session of `config` whose RNG stream is derived from `rng`.
    ///
    /// Shorthand for `JitteredBackoff::new(config, rng)?.make_backoff()`.
    pub fn new(config: BackoffConfig, rng: R) -> Result<Self, BackoffConfigError> {
        let maker = JitteredBackoff::new(config, rng)?;
        Ok(maker.session())
    }

    pub(super) fn from_parent(
        config: BackoffConfig,
        max_delay: Duration,
        parent: Arc<Mutex<R>>,
    ) -> Self {
        let rng = derive_rng(&parent);
        Self {
            config,
            max_delay,
            ceiling: config.initial,
            attempt: 0,
            rng,
            parent,
        }
    }

    /// The next delay of the schedule; advances the session by one attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.jittered(self.ceiling);
        self.ceiling = grow(self.ceiling, self.config.factor, self.config.cap);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    fn jittered(&mut self, ceiling: Duration) -> Duration {
        match self.config.jitter {
            Jitter::None => ceiling,
            Jitter::Full => {
                // Validation bounds `cap` by u64 nanoseconds; saturating is a
                // formality.
                let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(self.rng.random_range(0..=nanos))
            }
            Jitter::Proportional { low, high } => {
                let multiplier = if low < high {
                    self.rng.random_range(low..=high)
                } else {
                    low
                };
                Duration::try_from_secs_f64(ceiling.as_secs_f64() * multiplier)
                    .map_or(self.max_delay, |delay| delay.min(self.max_delay))
            }
        }
    }
}

impl<R> JitteredBackoffSession<R> {
    /// Restarts the schedule: the next delay is drawn from `initial` again.
    /// The RNG stream continues (a reset session does not replay its jitter).
    pub fn reset(&mut self) {
        self.ceiling = self.config.initial;
        self.attempt = 0;
    }

    /// How many delays were drawn since creation or the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The un-jittered ceiling the next delay is drawn from:
    /// `min(cap, initial * factor^attempt)`.
    pub fn ceiling(&self) -> Duration {
        self.ceiling
    }

    /// The longest delay this session can return (see
    /// [`BackoffConfig::max_delay`]).
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The (validated) config of this session.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }
}

/// `ceiling * factor`, capped; saturates at `cap` instead of overflowing.
fn grow(ceiling: Duration, factor: f64, cap: Duration) -> Duration {
    Duration::try_from_secs_f64(ceiling.as_secs_f64() * factor).map_or(cap, |next| next.min(cap))
}

/// A child RNG seeded from the shared parent stream.
pub(super) fn derive_rng<R: Rng + SeedableRng>(parent: &Mutex<R>) -> R {
    // A poisoned lock only means another thread panicked while drawing a
    // seed; the RNG state is still a valid RNG state.
    let mut parent = parent.lock().unwrap_or_else(PoisonError::into_inner);
    R::from_rng(&mut *parent)
}

impl<R: Rng + SeedableRng> Backoff for JitteredBackoffSession<R> {
    type Future = tokio::time::Sleep;

    /// Sleeps [`next_delay`](JitteredBackoffSession::next_delay) on tokio's
    /// clock.
    fn next_backoff(&mut self) -> Self::Future {
        tokio::time::sleep(self.next_delay())
    }
}

impl<R: Rng + SeedableRng> Clone for JitteredBackoffSession<R> {
    /// A fresh session (attempt 0) with a new RNG stream from the same
    /// parent, as tower's [`Backoff`] contract asks.
    fn clone(&self) -> Self {
        Self::from_parent(self.config, self.max_delay, Arc::clone(&self.parent))
    }
}

impl<R> fmt::Debug for JitteredBackoffSession<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitteredBackoffSession")
            .field("config", &self.config)
            .field("attempt", &self.attempt)
            .field("ceiling", &self.ceiling)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(config: BackoffConfig, seed: u64) -> JitteredBackoffSession {
        JitteredBackoffSession::new(config, StdRng::seed_from_u64(seed)).unwrap()
    }

    #[test]
    fn ceiling_grows_by_factor_and_stops_at_cap() {
        let mut s = session(BackoffConfig::foundationdb(), 1);
        let mut previous = s.ceiling();
        assert_eq!(previous, Duration::from_millis(50));
        for _ in 0..40 {
            s.next_delay();
            let next = s.ceiling();
            let expected = previous.mul_f64(1.2).min(Duration::from_millis(500));
            let diff = next.abs_diff(expected);
            assert!(diff <= Duration::from_nanos(1), "{next:?} vs {expected:?}");
            previous = next;
        }
        assert_eq!(s.ceiling(), Duration::from_millis(500));
    }

    #[test]
    fn no_jitter_returns_the_ceiling_exactly() {
        let config = BackoffConfig {
            initial: Duration::from_millis(100),
            factor: 2.0,
            cap: Duration::from_millis(1000),
            jitter: Jitter::None,
        };
        let mut s = session(config, 0);
        let delays: Vec<u64> = (0..6).map(|_| s.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn equal_jitter_bounds_scale_without_randomness() {
        let config = BackoffConfig {
            jitter: Jitter::Proportional {
                low: 0.5,
                high: 0.5,
            },
            ..BackoffConfig::foundationdb()
        };
        let mut s = session(config, 9);
        assert_eq!(s.next_delay(), Duration::from_millis(25));
    }

    #[test]
    fn huge_factor_saturates_at_cap_instead_of_overflowing() {
        let config = BackoffConfig {
            initial: Duration::from_secs(1),
            factor: 1e300,
            cap: Duration::from_secs(3600),
            jitter: Jitter::None,
        };
        let mut s = session(config, 0);
        assert_eq!(s.next_delay(), Duration::from_secs(1));
        assert_eq!(s.next_delay(), Duration::from_secs(3600));
        assert_eq!(s.next_delay(), Duration::from_secs(3600));
    }

    #[test]
    fn clone_is_a_fresh_session_with_its_own_stream() {
        let mut s = session(BackoffConfig::full_jitter(), 4);
        for _ in 0..5 {
            s.next_delay();
        }
        let mut clone = s.clone();
        assert_eq!(clone.attempt(), 0);
        assert_eq!(clone.ceiling(), Duration::from_millis(50));
        s.reset();
        let a: Vec<Duration> = (0..8).map(|_| s.next_delay()).collect();
        let b: Vec<Duration> = (0..8).map(|_| clone.next_delay()).collect();
        assert_ne!(a, b);
    }
}
