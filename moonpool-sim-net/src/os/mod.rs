//! The simulated operating system: seeded entropy and simulated clocks for
//! every line of code that runs on an iteration's thread, moonpool's or not.
//!
//! Code that follows no rule at all still asks the operating system for two
//! things that differ on every run: randomness (std's `HashMap` keys,
//! tokio's RNG seed, `rand`'s OS RNG, `uuid`, TLS nonces) and the time
//! (`SystemTime::now()`, an HTTP `Date` header, `std::time::Instant::now()`).
//! On Linux with glibc this crate provides the C entry points those requests
//! end in — `getrandom`, `getentropy`, `clock_gettime`, `gettimeofday` and
//! `time` — and answers them per thread:
//!
//! - on a thread running a simulation iteration, randomness comes from a
//!   stream seeded by the iteration's seed, and the clocks read simulated
//!   time: the realtime clock is a per-seed epoch plus the simulated time
//!   elapsed, the monotonic clocks equal tokio's paused clock (so
//!   `std::time::Instant::now()` and `tokio::time::Instant::now()` agree);
//! - on every other thread, the calls go to the C library unchanged, so real
//!   sockets, real timers and production code in the same binary behave as
//!   they always do.
//!
//! An executable defines these symbols ahead of the C library, so std,
//! tokio, the `getrandom` crate and any other library resolve them here,
//! whether they link the symbol or look it up at run time
//! (`dlsym(RTLD_DEFAULT, …)`). The `unsafe` code this needs is confined to
//! the `entry` submodule.
//!
//! Elsewhere (macOS, Windows, musl) the entry points are not provided:
//! [`seeded_os_available`] is `false`, and only what `docs/determinism.md`'s
//! rules cover is deterministic.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod entry;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

use crate::config::OsConfig;
use crate::seed::derive_seed;

/// Tags the operating system's entropy stream among the iteration's streams.
const OS_STREAM: u64 = 0x6f73_5f65_6e74_726f;
/// Tags the draw of the iteration's clock epochs.
const CLOCK_STREAM: u64 = 0x6f73_5f63_6c6f_636b;

/// Whether this build answers OS randomness and clock calls from the
/// simulation on simulation threads (Linux with glibc).
pub const fn seeded_os_available() -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

/// Whether the current thread runs a simulation iteration whose entropy and
/// clocks are seeded (see the [module docs](self)).
pub fn is_seeded() -> bool {
    CLOCK
        .try_with(|clock| clock.get().is_some())
        .unwrap_or(false)
}

/// The clock an entry point reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    /// `CLOCK_REALTIME` and friends: time since the UNIX epoch.
    Realtime,
    /// `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME` and friends: time since boot.
    Monotonic,
}

/// The simulated clocks of one iteration.
#[derive(Debug, Clone, Copy)]
struct SimClock {
    /// The realtime clock when the iteration started.
    wall_start: Duration,
    /// The monotonic clock (uptime) when the iteration started; tokio's
    /// paused clock starts here too.
    uptime_start: Duration,
    /// tokio's clock when the iteration started, once the runtime runs.
    tokio_start: Option<tokio::time::Instant>,
    /// Simulated time elapsed at the last reading: the answer when tokio's
    /// clock cannot be asked (before the runtime exists, after it is gone,
    /// or from inside tokio's own clock).
    elapsed: Duration,
}

thread_local! {
    static CLOCK: Cell<Option<SimClock>> = const { Cell::new(None) };
    static ENTROPY: RefCell<Option<StdRng>> = const { RefCell::new(None) };
    /// Set while an entry point asks tokio for the time: a clock call made
    /// from inside that request must not ask again.
    static READING: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the current thread's entropy and clocks seeded; restores the
/// operating system's answers when dropped.
#[must_use = "the thread is seeded only while the guard lives"]
#[derive(Debug)]
pub(crate) struct OsGuard {
    /// Not `Send`: the guard belongs to the thread it seeded.
    _thread: std::marker::PhantomData<*const ()>,
}

/// Seeds the current thread's entropy and clocks from `seed`.
///
/// Call it first thing on a fresh thread: std draws the thread's hash keys
/// and tokio its RNG seed the first time they are needed, and those draws
/// must come from the seeded stream.
pub(crate) fn enter(config: &OsConfig, seed: u64) -> Option<OsGuard> {
    if !config.seeded {
        return None;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    entry::keep_linked();
    let mut draw = StdRng::seed_from_u64(derive_seed(seed, &[CLOCK_STREAM]));
    let clock = SimClock {
        wall_start: pick(&mut draw, &config.wall_clock),
        uptime_start: pick(&mut draw, &config.uptime),
        tokio_start: None,
        elapsed: Duration::ZERO,
    };
    CLOCK.with(|cell| cell.set(Some(clock)));
    ENTROPY.with(|cell| {
        *cell.borrow_mut() = Some(StdRng::seed_from_u64(derive_seed(seed, &[OS_STREAM])));
    });
    Some(OsGuard {
        _thread: std::marker::PhantomData,
    })
}

impl Drop for OsGuard {
    fn drop(&mut self) {
        let _ = CLOCK.try_with(|cell| cell.set(None));
        let _ = ENTROPY.try_with(|cell| cell.borrow_mut().take());
    }
}

fn pick(rng: &mut StdRng, range: &std::ops::RangeInclusive<Duration>) -> Duration {
    let (start, end) = (range.start().as_nanos(), range.end().as_nanos());
    if start >= end {
        return *range.start();
    }
    let nanos = rng.random_range(start..=end);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Ties the simulated clocks to tokio's paused clock. Called inside the
/// iteration's runtime at its first instant.
pub(crate) fn attach_tokio_clock(start: tokio::time::Instant) {
    let _ = CLOCK.try_with(|cell| {
        if let Some(mut clock) = cell.get() {
            clock.tokio_start = Some(start);
            cell.set(Some(clock));
        }
    });
}

/// Fills `buf` from the thread's seeded stream; `false` (and `buf`
/// untouched) on a thread that is not seeded.
pub(crate) fn fill_random(buf: &mut [u8]) -> bool {
    ENTROPY
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut entropy) => match entropy.as_mut() {
                Some(rng) => {
                    rng.fill_bytes(buf);
                    true
                }
                None => false,
            },
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// The simulated reading of `clock`; `None` on a thread that is not seeded.
pub(crate) fn now(clock: Clock) -> Option<Duration> {
    let mut sim = CLOCK.try_with(Cell::get).ok().flatten()?;
    sim.elapsed = elapsed(&sim);
    let _ = CLOCK.try_with(|cell| cell.set(Some(sim)));
    Some(match clock {
        Clock::Realtime => sim.wall_start.saturating_add(sim.elapsed),
        Clock::Monotonic => sim.uptime_start.saturating_add(sim.elapsed),
    })
}

/// Simulated time since the iteration started, read from tokio's clock
/// when that is safe, else the last reading.
fn elapsed(sim: &SimClock) -> Duration {
    let Some(start) = sim.tokio_start else {
        return sim.elapsed;
    };
    // tokio reads `std::time::Instant` itself only while its clock is not
    // paused (or has no runtime): that nested reading gets the last value.
    if READING
        .try_with(|reading| reading.replace(true))
        .unwrap_or(true)
    {
        return sim.elapsed;
    }
    let elapsed = if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::Instant::now()
            .saturating_duration_since(start)
            .max(sim.elapsed)
    } else {
        sim.elapsed
    };
    let _ = READING.try_with(|reading| reading.set(false));
    elapsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        match std::thread::spawn(f).join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    #[test]
    fn a_seeded_thread_draws_the_same_bytes_for_the_same_seed() {
        let draw = |seed| {
            on_fresh_thread(move || {
                let _guard = enter(&OsConfig::default(), seed);
                let mut buf = [0u8; 32];
                assert!(fill_random(&mut buf));
                buf
            })
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn an_unseeded_thread_gets_nothing_from_the_simulation() {
        let mut buf = [0u8; 8];
        assert!(!fill_random(&mut buf));
        assert_eq!(now(Clock::Realtime), None);
        assert!(!is_seeded());
    }

    #[test]
    fn the_guard_restores_the_operating_system() {
        on_fresh_thread(|| {
            let guard = enter(&OsConfig::default(), 1);
            assert!(is_seeded());
            drop(guard);
            assert!(!is_seeded());
            assert_eq!(now(Clock::Monotonic), None);
        });
    }

    #[test]
    fn clocks_start_inside_the_configured_ranges_and_differ_by_seed() {
        let config = OsConfig::default();
        let read = |seed| {
            let config = config.clone();
            on_fresh_thread(move || {
                let _guard = enter(&config, seed);
                (now(Clock::Realtime), now(Clock::Monotonic))
            })
        };
        let (Some(wall), Some(uptime)) = read(3) else {
            panic!("a seeded thread reads simulated clocks");
        };
        assert!(config.wall_clock.contains(&wall));
        assert!(config.uptime.contains(&uptime));
        assert_eq!(read(3), read(3));
        assert_ne!(read(3), read(4));
    }

    #[test]
    fn an_unseeded_config_leaves_the_thread_alone() {
        let config = OsConfig {
            seeded: false,
            ..OsConfig::default()
        };
        on_fresh_thread(move || {
            assert!(enter(&config, 1).is_none());
            assert!(!is_seeded());
        });
    }
}
