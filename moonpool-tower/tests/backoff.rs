//! Specification of the jittered backoff schedule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use moonpool_tower::backoff::{BackoffConfig, Jitter, JitteredBackoff, JitteredBackoffSession};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;
use tower::retry::backoff::{Backoff, MakeBackoff};
use tower::retry::{Policy, RetryLayer};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

/// Float rounding slack on the ceilings computed below.
const SLACK: Duration = Duration::from_micros(1);
/// tokio's timer fires on millisecond ticks: a sleep may end up to 1 ms late.
const TICK: Duration = Duration::from_millis(1);

fn session(config: BackoffConfig, seed: u64) -> JitteredBackoffSession {
    JitteredBackoffSession::new(config, StdRng::seed_from_u64(seed)).unwrap()
}

fn delays(config: BackoffConfig, seed: u64, n: usize) -> Vec<Duration> {
    let mut s = session(config, seed);
    (0..n).map(|_| s.next_delay()).collect()
}

/// `min(cap, initial * factor^attempt)`, computed independently.
fn ceiling(config: &BackoffConfig, attempt: usize) -> Duration {
    let secs = config.initial.as_secs_f64() * config.factor.powi(attempt as i32);
    Duration::from_secs_f64(secs.min(config.cap.as_secs_f64()))
}

#[test]
fn foundationdb_delays_lie_within_ten_percent_of_the_growing_ceiling() {
    let config = BackoffConfig::foundationdb();
    for seed in 0..20 {
        for (attempt, delay) in delays(config, seed, 40).into_iter().enumerate() {
            let ceiling = ceiling(&config, attempt);
            assert!(
                delay + SLACK >= ceiling.mul_f64(0.9) && delay <= ceiling.mul_f64(1.1) + SLACK,
                "seed {seed} attempt {attempt}: {delay:?} outside 0.9..1.1 x {ceiling:?}"
            );
        }
    }
}

#[test]
fn foundationdb_schedule_starts_at_50ms_and_is_capped_at_500ms() {
    let config = BackoffConfig::foundationdb();
    assert_eq!(ceiling(&config, 0), Duration::from_millis(50));
    let mut s = session(config, 1);
    for _ in 0..13 {
        s.next_delay();
    }
    // 50 ms * 1.2^13 > 500 ms: the cap is reached after 13 attempts.
    assert_eq!(s.ceiling(), Duration::from_millis(500));
    for delay in (0..500).map(|_| s.next_delay()) {
        assert!(delay <= Duration::from_millis(550) + SLACK, "{delay:?}");
        assert!(delay + SLACK >= Duration::from_millis(450), "{delay:?}");
    }
}

#[test]
fn full_jitter_delays_never_exceed_the_ceiling_nor_the_cap() {
    let config = BackoffConfig::full_jitter();
    for seed in 0..20 {
        for (attempt, delay) in delays(config, seed, 60).into_iter().enumerate() {
            assert!(
                delay <= ceiling(&config, attempt) + SLACK,
                "attempt {attempt}"
            );
            assert!(delay <= config.cap);
        }
    }
}

#[test]
fn full_jitter_keeps_spreading_delays_once_at_the_cap() {
    let config = BackoffConfig::full_jitter();
    let at_cap: Vec<Duration> = delays(config, 11, 300).split_off(100);
    let min = *at_cap.iter().min().unwrap();
    let max = *at_cap.iter().max().unwrap();
    // Uniform over [0, 10 s]: 200 draws cover both ends of the range.
    assert!(min < Duration::from_secs(1), "min {min:?}");
    assert!(max > Duration::from_secs(9), "max {max:?}");
    let distinct: std::collections::BTreeSet<Duration> = at_cap.iter().copied().collect();
    assert!(distinct.len() > 190);
}

#[test]
fn proportional_jitter_keeps_spreading_delays_once_at_the_cap() {
    let at_cap: Vec<Duration> = delays(BackoffConfig::foundationdb(), 3, 300).split_off(100);
    let min = *at_cap.iter().min().unwrap();
    let max = *at_cap.iter().max().unwrap();
    assert!(min < Duration::from_millis(460), "min {min:?}");
    assert!(max > Duration::from_millis(540), "max {max:?}");
}

#[test]
fn same_seed_gives_the_same_delays() {
    for config in [BackoffConfig::foundationdb(), BackoffConfig::full_jitter()] {
        assert_eq!(delays(config, 77, 50), delays(config, 77, 50));
    }
}

#[test]
fn different_seeds_give_different_delays() {
    for config in [BackoffConfig::foundationdb(), BackoffConfig::full_jitter()] {
        assert_ne!(delays(config, 1, 20), delays(config, 2, 20));
    }
}

#[test]
fn sessions_of_one_maker_differ_yet_replay_for_the_same_seed() {
    let run = |seed| {
        let mut maker =
            JitteredBackoff::new(BackoffConfig::full_jitter(), StdRng::seed_from_u64(seed))
                .unwrap();
        let mut first = maker.make_backoff();
        let mut second = maker.make_backoff();
        let first: Vec<Duration> = (0..10).map(|_| first.next_delay()).collect();
        let second: Vec<Duration> = (0..10).map(|_| second.next_delay()).collect();
        (first, second)
    };
    let (first, second) = run(8);
    assert_ne!(first, second);
    assert_eq!(run(8), (first, second));
}

#[test]
fn reset_restarts_the_schedule_from_the_initial_ceiling() {
    let config = BackoffConfig {
        jitter: Jitter::None,
        ..BackoffConfig::foundationdb()
    };
    let mut s = session(config, 0);
    for _ in 0..20 {
        s.next_delay();
    }
    assert_eq!(s.ceiling(), Duration::from_millis(500));
    s.reset();
    assert_eq!(s.attempt(), 0);
    assert_eq!(s.next_delay(), Duration::from_millis(50));
    assert_eq!(s.attempt(), 1);
}

#[tokio::test(start_paused = true)]
async fn next_backoff_sleeps_the_next_delay_on_tokios_clock() {
    let config = BackoffConfig::foundationdb();
    let mut sleeper = session(config, 21);
    let mut twin = session(config, 21);
    for _ in 0..8 {
        let expected = twin.next_delay();
        let start = Instant::now();
        sleeper.next_backoff().await;
        let slept = start.elapsed();
        assert!(
            slept >= expected && slept <= expected + TICK,
            "{slept:?} vs {expected:?}"
        );
    }
}

/// A retry policy that backs off with a session and gives up after
/// `remaining` retries; `Clone` gives each request a fresh session.
#[derive(Clone)]
struct BackoffRetry {
    backoff: JitteredBackoffSession,
    remaining: usize,
}

impl<Req: Clone, Res, E> Policy<Req, Res, E> for BackoffRetry {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        if result.is_ok() || self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.backoff.next_backoff())
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

#[tokio::test(start_paused = true)]
async fn sessions_drive_tower_retry_with_growing_delays() {
    let config = BackoffConfig {
        initial: Duration::from_millis(100),
        factor: 2.0,
        cap: Duration::from_secs(1),
        jitter: Jitter::None,
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let flaky = service_fn(move |req: u32| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let reply: Pin<Box<dyn Future<Output = Result<u32, &'static str>> + Send>> =
            Box::pin(async move { if n < 3 { Err("unavailable") } else { Ok(req) } });
        reply
    });
    let policy = BackoffRetry {
        backoff: session(config, 0),
        remaining: 5,
    };
    let mut client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(flaky);

    let start = Instant::now();
    let reply = client.ready().await.unwrap().call(9).await.unwrap();
    let elapsed = start.elapsed();

    assert_eq!(reply, 9);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // Three failures: 100 + 200 + 400 ms of backoff.
    let expected = Duration::from_millis(700);
    assert!(
        elapsed >= expected && elapsed <= expected + 3 * TICK,
        "{elapsed:?}"
    );
}
