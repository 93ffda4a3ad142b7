//! Host faults: attrition (crash and restart), stable hosts, clock drift,
//! buggified delays, swarm mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fault_support::{PORT, echo_server, ip, ms, only, secs};
use moonpool_sim_net::{
    FaultConfig, FaultKind, Sim, SimError, SimHandle, SimTcpStream, buggified_sleep, timer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

#[test]
fn attrition_crashes_and_restarts_servers_but_never_a_stable_one() {
    let faults = only(|f| {
        f.attrition.enabled = true;
        f.attrition.interval = secs(2);
        f.attrition.max_down = 1;
        f.attrition.max_restart_delay = secs(1);
    })
    .stable(ip(3));
    let outcome = Sim::new(1)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .host("stable", ip(3), echo_server)
        .workload("client", ip(2), async {
            let sim = SimHandle::current().unwrap();
            let mut max_down = 0;
            let mut served = 0;
            let end = Instant::now() + secs(120);
            while Instant::now() < end {
                let down = sim.hosts().iter().filter(|h| !h.alive).count();
                max_down = max_down.max(down);
                // The server comes back after every crash and serves again.
                let attempt = async {
                    let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
                    stream.write_all(b"ping").await?;
                    let mut buf = [0u8; 4];
                    stream.read_exact(&mut buf).await?;
                    Ok::<_, std::io::Error>(())
                };
                if let Ok(Ok(())) = tokio::time::timeout(secs(1), attempt).await {
                    served += 1;
                }
                tokio::time::sleep(ms(200)).await;
            }
            let hosts = sim.hosts();
            assert!(hosts[0].incarnation >= 3, "server restarted: {hosts:?}");
            assert_eq!(hosts[1].incarnation, 0, "a stable host is never crashed");
            assert_eq!(max_down, 1, "at most max_down hosts down at once");
            assert!(served > 100);
            Ok::<_, std::io::Error>(())
        })
        .run(secs(200))
        .unwrap();
    let crashes = outcome.faults.get(FaultKind::CrashReset)
        + outcome.faults.get(FaultKind::CrashVanish)
        + outcome.faults.get(FaultKind::CrashGraceful);
    assert!(crashes >= 3);
    assert!(outcome.faults.get(FaultKind::Restart) >= crashes - 1);
}

#[test]
fn drifted_clock_runs_ahead_by_at_most_the_max_drift_and_never_goes_back() {
    let faults = only(|f| f.clock.enabled = true);
    let outcome = Sim::new(2)
        .faults(faults)
        .workload("client", ip(2), async {
            let mut last = timer();
            let mut ahead = 0;
            for _ in 0..500 {
                tokio::time::sleep(ms(3)).await;
                let now = Instant::now();
                let t = timer();
                assert!(t >= last, "timer() is monotonic");
                assert!(t >= now && t <= now + ms(100), "drift within 100 ms");
                if t > now + ms(1) {
                    ahead += 1;
                }
                last = t;
            }
            assert!(ahead > 100, "the clock runs ahead ({ahead} of 500 reads)");
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap();
    assert!(outcome.faults.get(FaultKind::ClockDrift) > 0);
}

#[test]
fn without_clock_faults_timer_is_simulated_now() {
    Sim::new(3)
        .workload("client", ip(2), async {
            assert_eq!(timer(), Instant::now());
            Ok::<_, std::io::Error>(())
        })
        .run(secs(1))
        .unwrap();
}

#[test]
fn buggified_sleep_sometimes_sleeps_longer_within_the_max() {
    let faults = only(|f| {
        f.buggified_delay.enabled = true;
        f.buggified_delay.probability = 1.0;
        f.buggified_delay.max = secs(50);
    });
    let longest = Arc::new(AtomicU64::new(0));
    let seen = longest.clone();
    let outcome = Sim::new(4)
        .faults(faults)
        .workload("client", ip(2), async move {
            for _ in 0..1000 {
                let start = Instant::now();
                buggified_sleep(ms(1)).await;
                let took = start.elapsed();
                assert!(took >= ms(1) && took <= ms(1) + secs(50) + ms(1));
                let micros = u64::try_from(took.as_micros()).unwrap();
                seen.fetch_max(micros, Ordering::Relaxed);
            }
            Ok::<_, std::io::Error>(())
        })
        .run(secs(100_000))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::BuggifiedDelay), 1000);
    assert!(
        longest.load(Ordering::Relaxed) > 10_000,
        "U^1000 rarely gives a long extra"
    );
}

#[test]
fn quiet_buggified_sleep_is_a_plain_sleep() {
    Sim::new(5)
        .workload("client", ip(2), async {
            let start = Instant::now();
            buggified_sleep(ms(5)).await;
            assert_eq!(start.elapsed(), ms(5));
            Ok::<_, std::io::Error>(())
        })
        .run(secs(1))
        .unwrap();
}

#[test]
fn swarm_mode_runs_different_fault_families_on_different_seeds() {
    let families = |seed| {
        let c = FaultConfig::chaos().swarm(seed);
        [
            c.latency.enabled,
            c.clog.enabled,
            c.partition.enabled,
            c.random_close.enabled,
            c.bit_flip.enabled,
            c.short_io.enabled,
            c.connect.enabled,
            c.loss.enabled,
            c.attrition.enabled,
            c.clock.enabled,
            c.buggified_delay.enabled,
        ]
    };
    let draws: Vec<_> = (0..100).map(families).collect();
    assert!(
        draws.iter().any(|d| d.iter().all(|on| !on)),
        "some seeds inject nothing"
    );
    for family in 0..11 {
        assert!(draws.iter().any(|d| d[family]) && draws.iter().any(|d| !d[family]));
    }
    assert_eq!(
        families(42),
        families(42),
        "the draw is a function of the seed"
    );
}

/// A restartable host whose factory panics from its second call on.
fn fragile_factory() -> impl Fn() -> fault_support::Root + Send + Sync + 'static {
    let calls = Arc::new(AtomicU64::new(0));
    move || {
        if calls.fetch_add(1, Ordering::Relaxed) > 0 {
            panic!("factory says no");
        }
        Box::pin(echo_server())
    }
}

fn assert_factory_panic(error: SimError) {
    match error {
        SimError::TaskPanicked { name, message, .. } => {
            assert_eq!(name, "server");
            assert!(message.contains("factory says no"), "{message}");
        }
        other => panic!("expected the factory's panic, got {other}"),
    }
}

#[test]
fn a_factory_panic_during_an_attrition_restart_fails_the_iteration() {
    let faults = only(|f| {
        f.attrition.enabled = true;
        f.attrition.interval = ms(100);
        f.attrition.max_restart_delay = ms(10);
    });
    let error = Sim::new(1)
        .faults(faults)
        .host("server", ip(1), fragile_factory())
        .workload("client", ip(2), async {
            tokio::time::sleep(secs(30)).await;
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap_err();
    assert_factory_panic(error);
}

#[test]
fn a_host_whose_factory_panics_on_restart_is_left_down() {
    let error = Sim::new(1)
        .host("server", ip(1), fragile_factory())
        .workload("client", ip(2), async {
            let sim = SimHandle::current().unwrap();
            tokio::time::sleep(ms(10)).await;
            sim.restart(ip(1)).unwrap();
            assert!(!sim.hosts()[0].alive, "no root task runs: the host is down");
            tokio::time::sleep(secs(30)).await;
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap_err();
    assert_factory_panic(error);
}

#[test]
fn scheduled_faults_with_an_interval_too_long_to_double_never_fire() {
    let faults = only(|f| {
        f.clog.enabled = true;
        f.clog.interval = std::time::Duration::MAX;
        f.partition.enabled = true;
        f.partition.interval = std::time::Duration::MAX;
        f.attrition.enabled = true;
        f.attrition.interval = std::time::Duration::MAX;
    });
    let outcome = Sim::new(1)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            tokio::time::sleep(secs(10)).await;
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap();
    assert_eq!(outcome.faults.total(), 0);
}

#[test]
fn a_vanished_host_is_silent_only_on_connections_it_accepted() {
    Sim::new(1)
        .host("server", ip(1), || async {
            let listener = moonpool_sim_net::SimTcpListener::bind(("0.0.0.0", PORT)).await?;
            // Accepts one connection; the next waits in the backlog.
            let (_accepted, _) = listener.accept().await?;
            tokio::time::sleep(secs(100)).await;
            Ok::<_, std::io::Error>(())
        })
        .workload("client", ip(2), async {
            let sim = SimHandle::current().unwrap();
            tokio::time::sleep(ms(10)).await;
            let mut accepted = SimTcpStream::connect((ip(1), PORT)).await?;
            let mut queued = SimTcpStream::connect((ip(1), PORT)).await?;
            tokio::time::sleep(ms(10)).await;
            sim.crash_with(ip(1), moonpool_sim_net::CrashMode::Vanish)
                .unwrap();
            let mut byte = [0u8; 1];
            // The accepted connection is half-open: a read waits.
            let read = tokio::time::timeout(secs(1), accepted.read(&mut byte)).await;
            assert!(read.is_err(), "a read on a half-open connection waits");
            // The connection still queued in the listener is reset.
            let error = queued.read(&mut byte).await.unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
            // A new connection to the powered-off host is refused.
            let error = SimTcpStream::connect((ip(1), PORT)).await.unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap();
}
