//! Instants from user-given durations: a duration too long to add to an
//! instant means "never", never a panic.

use std::time::Duration;

use tokio::time::Instant;

/// How far "never" is: about 30 years on, as tokio's own far future. No
/// simulation budget reaches it, and adding it to any instant of a run fits.
const NEVER: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + duration`, or, if that does not fit in an `Instant`, an instant
/// about 30 years after `at` (which no iteration reaches).
pub(crate) fn later(at: Instant, duration: Duration) -> Instant {
    at.checked_add(duration)
        .or_else(|| at.checked_add(NEVER))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflowing_duration_saturates_to_the_far_future() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(3)),
            now + Duration::from_secs(3)
        );
        assert_eq!(later(now, Duration::MAX), now + NEVER);
    }
}
