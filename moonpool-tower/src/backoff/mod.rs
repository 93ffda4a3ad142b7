//! Jittered exponential backoff for tower's retry machinery and for plain
//! loops.
//!
//! tower's own `ExponentialBackoff` stops jittering once it reaches its
//! maximum, so clients that failed together keep retrying together. The
//! schedule here keeps its jitter at the cap, in two styles
//! ([`BackoffConfig`]):
//!
//! - [`BackoffConfig::full_jitter`]: AWS "full jitter",
//!   `sleep = uniform(0, min(cap, initial * factor^attempt))`;
//! - [`BackoffConfig::foundationdb`] (the default): the ceiling grows by a
//!   factor up to a cap and each sleep is the ceiling times a multiplier
//!   drawn from `[0.9, 1.1]`, FoundationDB's reconnection schedule.
//!
//! [`JitteredBackoff`] implements tower's [`MakeBackoff`]; each
//! [`JitteredBackoffSession`] it makes implements tower's
//! [`Backoff`](tower::retry::backoff::Backoff) (a [`tokio::time::Sleep`] per
//! attempt) and offers the same schedule synchronously
//! ([`next_delay`](JitteredBackoffSession::next_delay),
//! [`reset`](JitteredBackoffSession::reset)) for code outside tower.
//!
//! All randomness comes from an RNG the caller seeds: the same seed gives
//! the same delays, which is what makes a simulation run reproducible.
//! Backoff is not a service, so it has no layer of its own; it plugs into
//! [`Reconnect`](crate::reconnect::Reconnect) and into `tower::retry`
//! policies.
//!
//! ```
//! use std::time::Duration;
//! use moonpool_tower::backoff::{BackoffConfig, JitteredBackoff};
//! use rand::{SeedableRng, rngs::StdRng};
//! use tower::retry::backoff::{Backoff, MakeBackoff};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), moonpool_tower::backoff::BackoffConfigError> {
//! let mut maker = JitteredBackoff::new(BackoffConfig::full_jitter(), StdRng::seed_from_u64(42))?;
//! let mut session = maker.make_backoff();
//! let start = tokio::time::Instant::now();
//! session.next_backoff().await; // at most 50 ms
//! session.next_backoff().await; // at most 100 ms
//! assert!(start.elapsed() <= Duration::from_millis(152));
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod session;

pub use config::{BackoffConfig, Jitter};
pub use error::BackoffConfigError;
pub use session::JitteredBackoffSession;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower::retry::backoff::MakeBackoff;

/// Makes [`JitteredBackoffSession`]s of one validated [`BackoffConfig`]
/// (tower's [`MakeBackoff`]).
///
/// Guarantees:
/// - every session gets its own RNG stream, seeded from this maker's RNG at
///   [`make_backoff`](MakeBackoff::make_backoff) time, so concurrent
///   sessions do not jitter in lockstep;
/// - the streams depend only on the seed given to [`new`](Self::new) and on
///   the order in which sessions are made (deterministic per seed);
/// - clones share the parent RNG (behind a mutex): sessions made from any
///   clone still get distinct streams. This is what lets a
///   [`ReconnectLayer`](crate::reconnect::ReconnectLayer) hand one maker to
///   every service it builds.
pub struct JitteredBackoff<R = StdRng> {
    config: BackoffConfig,
    max_delay: Duration,
    parent: Arc<Mutex<R>>,
}

impl<R: Rng + SeedableRng> JitteredBackoff<R> {
    /// A maker for `config` whose sessions draw their seeds from `rng`.
    ///
    /// Fails with the first problem [`BackoffConfig::validate`] finds.
    pub fn new(config: BackoffConfig, rng: R) -> Result<Self, BackoffConfigError> {
        let max_delay = config.max_delay()?;
        Ok(Self {
            config,
            max_delay,
            parent: Arc::new(Mutex::new(rng)),
        })
    }

    /// A new session at attempt 0 with its own RNG stream (the same as
    /// [`MakeBackoff::make_backoff`], without importing the trait).
    pub fn session(&self) -> JitteredBackoffSession<R> {
        JitteredBackoffSession::from_parent(self.config, self.max_delay, Arc::clone(&self.parent))
    }
}

impl<R> JitteredBackoff<R> {
    /// The (validated) config every session follows.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// The longest delay any session can return (see
    /// [`BackoffConfig::max_delay`]).
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }
}

impl<R: Rng + SeedableRng> MakeBackoff for JitteredBackoff<R> {
    type Backoff = JitteredBackoffSession<R>;

    fn make_backoff(&mut self) -> Self::Backoff {
        self.session()
    }
}

impl<R> Clone for JitteredBackoff<R> {
    /// Shares the parent RNG: sessions from the clone and from the original
    /// draw distinct seeds from one stream.
    fn clone(&self) -> Self {
        Self {
            config: self.config,
            max_delay: self.max_delay,
            parent: Arc::clone(&self.parent),
        }
    }
}

impl<R> fmt::Debug for JitteredBackoff<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitteredBackoff")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configs_are_rejected_with_the_reason() {
        let fdb = BackoffConfig::foundationdb();
        let cases = [
            (
                BackoffConfig {
                    initial: Duration::ZERO,
                    ..fdb
                },
                BackoffConfigError::ZeroInitial,
            ),
            (
                BackoffConfig {
                    cap: Duration::from_millis(10),
                    ..fdb
                },
                BackoffConfigError::CapBelowInitial {
                    initial: Duration::from_millis(50),
                    cap: Duration::from_millis(10),
                },
            ),
            (
                BackoffConfig { factor: 0.5, ..fdb },
                BackoffConfigError::InvalidFactor { factor: 0.5 },
            ),
            (
                BackoffConfig {
                    factor: f64::INFINITY,
                    ..fdb
                },
                BackoffConfigError::InvalidFactor {
                    factor: f64::INFINITY,
                },
            ),
            (
                BackoffConfig {
                    jitter: Jitter::Proportional {
                        low: 1.1,
                        high: 0.9,
                    },
                    ..fdb
                },
                BackoffConfigError::InvalidJitterBounds {
                    low: 1.1,
                    high: 0.9,
                },
            ),
            (
                BackoffConfig {
                    jitter: Jitter::Proportional {
                        low: -0.1,
                        high: 0.9,
                    },
                    ..fdb
                },
                BackoffConfigError::InvalidJitterBounds {
                    low: -0.1,
                    high: 0.9,
                },
            ),
            (
                BackoffConfig {
                    jitter: Jitter::Proportional {
                        low: 0.0,
                        high: 0.0,
                    },
                    ..fdb
                },
                BackoffConfigError::InvalidJitterBounds {
                    low: 0.0,
                    high: 0.0,
                },
            ),
            (
                BackoffConfig {
                    cap: Duration::MAX,
                    ..fdb
                },
                BackoffConfigError::DelayOverflow {
                    cap: Duration::MAX,
                    high: 1.1,
                },
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(config.validate(), Err(expected), "{config:?}");
            let made = JitteredBackoff::new(config, StdRng::seed_from_u64(0));
            assert_eq!(made.err(), Some(expected));
        }
    }

    #[test]
    fn nan_jitter_bound_is_rejected() {
        let config = BackoffConfig {
            jitter: Jitter::Proportional {
                low: f64::NAN,
                high: 1.0,
            },
            ..BackoffConfig::foundationdb()
        };
        assert!(matches!(
            config.validate(),
            Err(BackoffConfigError::InvalidJitterBounds { .. })
        ));
    }

    #[test]
    fn presets_are_valid_and_report_their_longest_sleep() {
        let fdb = BackoffConfig::foundationdb().max_delay().unwrap();
        assert!(fdb.abs_diff(Duration::from_millis(550)) <= Duration::from_nanos(1));
        assert_eq!(
            BackoffConfig::full_jitter().max_delay(),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(BackoffConfig::default(), BackoffConfig::foundationdb());
    }

    #[test]
    fn clones_of_a_maker_hand_out_distinct_streams() {
        let maker =
            JitteredBackoff::new(BackoffConfig::full_jitter(), StdRng::seed_from_u64(5)).unwrap();
        let mut a = maker.session();
        let mut b = maker.clone().session();
        let a: Vec<Duration> = (0..8).map(|_| a.next_delay()).collect();
        let b: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert_ne!(a, b);
    }
}
