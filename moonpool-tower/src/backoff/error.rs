//! Why a [`BackoffConfig`](super::BackoffConfig) was rejected.

use std::time::Duration;

/// A [`BackoffConfig`](super::BackoffConfig) that cannot produce a sane
/// schedule.
///
/// Returned by [`BackoffConfig::validate`](super::BackoffConfig::validate)
/// and by every constructor that takes a config; a schedule is never built
/// from an invalid config, so the delay arithmetic can never overflow or
/// produce a busy loop.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum BackoffConfigError {
    /// `initial` is zero: every delay would be zero, a tight retry loop.
    #[error("initial backoff delay must be greater than zero")]
    ZeroInitial,
    /// `cap` is shorter than `initial`.
    #[error("backoff cap {cap:?} is shorter than the initial delay {initial:?}")]
    CapBelowInitial {
        /// The configured initial delay.
        initial: Duration,
        /// The configured cap.
        cap: Duration,
    },
    /// `factor` is below 1 (delays would shrink), infinite or NaN.
    #[error("backoff growth factor {factor} must be a finite number of at least 1")]
    InvalidFactor {
        /// The configured growth factor.
        factor: f64,
    },
    /// Proportional jitter bounds are not finite, negative, inverted, or
    /// `high` is zero (every delay would be zero).
    #[error("jitter bounds [{low}, {high}] must be finite with 0 <= low <= high and high > 0")]
    InvalidJitterBounds {
        /// The configured lower bound of the jitter multiplier.
        low: f64,
        /// The configured upper bound of the jitter multiplier.
        high: f64,
    },
    /// The longest possible sleep (`cap`, times the jitter's upper bound)
    /// does not fit in `u64` nanoseconds (about 584 years).
    #[error("longest possible backoff sleep (cap {cap:?} times jitter {high}) is too long")]
    DelayOverflow {
        /// The configured cap.
        cap: Duration,
        /// The multiplier applied to the cap in the worst case.
        high: f64,
    },
}
