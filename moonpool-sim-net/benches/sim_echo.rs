//! Simulator throughput on the echo workload: 25 client hosts, each doing TCP
//! ping-pong of 8-byte messages with its own server host, latency 100 µs..1 ms.
//!
//! Prints round trips and network events per wall-clock second, and the ratio
//! to turmoil 0.7's ~37,000 round trips per second on the same workload (a
//! 2-core machine), then the heartbeat workload: the same 25 pairs doing one
//! round trip per simulated second for one simulated hour.
//!
//! Run: `cargo bench -p moonpool-sim-net` (optional env: `SIM_ECHO_SECONDS`,
//! simulated seconds of the ping-pong run, default 20).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moonpool_sim_net::{
    NetConfig, OsConfig, Sim, SimConfig, SimHandle, SimTcpListener, SimTcpStream, spawn,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAIRS: u8 = 25;
const PORT: u16 = 7000;
const TURMOIL_ROUND_TRIPS_PER_SEC: f64 = 37_000.0;

struct Run {
    round_trips: u64,
    events: u64,
    sim: Duration,
    wall: Duration,
}

/// Runs the workload: each client does round trips until `sim_duration`,
/// sleeping `pause` between them.
fn echo(seed: u64, sim_duration: Duration, pause: Option<Duration>) -> Run {
    echo_with(seed, sim_duration, pause, OsConfig::default())
}

/// [`echo`] with the given simulated-OS configuration (seeded or not).
fn echo_with(seed: u64, sim_duration: Duration, pause: Option<Duration>, os: OsConfig) -> Run {
    let round_trips = Arc::new(AtomicU64::new(0));
    let mut sim = Sim::new(seed)
        .net(NetConfig {
            latency: Duration::from_micros(100)..=Duration::from_millis(1),
            ..NetConfig::default()
        })
        .config(SimConfig {
            os,
            ..SimConfig::default()
        });
    for i in 1..=PAIRS {
        let server = Ipv4Addr::new(10, 0, 1, i);
        sim = sim.host(&format!("server-{i}"), server, || async {
            let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
            loop {
                let (mut stream, _) = listener.accept().await?;
                spawn(async move {
                    let mut buf = [0u8; 8];
                    while stream.read_exact(&mut buf).await.is_ok() {
                        if stream.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        });
        let counter = round_trips.clone();
        sim = sim.workload(
            &format!("client-{i}"),
            Ipv4Addr::new(10, 0, 0, i),
            async move {
                let handle = SimHandle::current().expect("inside a host");
                let mut stream = SimTcpStream::connect((server, PORT)).await?;
                let mut n = 0u64;
                while handle.elapsed() < sim_duration {
                    stream.write_all(&n.to_le_bytes()).await?;
                    let mut reply = [0u8; 8];
                    stream.read_exact(&mut reply).await?;
                    assert_eq!(u64::from_le_bytes(reply), n);
                    n += 1;
                    counter.fetch_add(1, Ordering::Relaxed);
                    if let Some(pause) = pause {
                        tokio::time::sleep(pause).await;
                    }
                }
                Ok::<(), std::io::Error>(())
            },
        );
    }
    let wall = WallClock::start();
    let outcome = sim.run(sim_duration + Duration::from_secs(60)).unwrap();
    let wall = wall.elapsed();
    Run {
        round_trips: round_trips.load(Ordering::Relaxed),
        events: outcome.events,
        sim: outcome.sim_elapsed,
        wall,
    }
}

/// The cost of the seeded OS (entropy and clocks answered from the seed):
/// the same ping-pong with and without it, alternated `rounds` times in
/// this run; prints the medians and their ratio.
fn seeding_cost(sim_duration: Duration, rounds: usize) {
    let rate = |os: OsConfig| {
        let run = echo_with(44, sim_duration, None, os);
        run.round_trips as f64 / run.wall.as_secs_f64()
    };
    let unseeded = || OsConfig {
        seeded: false,
        ..OsConfig::default()
    };
    let (mut seeded, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        seeded.push(rate(OsConfig::default()));
        plain.push(rate(unseeded()));
    }
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let (seeded, plain) = (median(&mut seeded), median(&mut plain));
    println!(
        "seeded OS: {seeded:.0} round trips/s seeded, {plain:.0} without, {:.3}x (median of {rounds} alternated runs)",
        seeded / plain
    );
}

/// Wall-clock measurement for the report only; never feeds the simulation.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
struct WallClock(std::time::Instant);

#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
impl WallClock {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

fn main() {
    // `cargo test --benches` runs benches with `--bench` absent: stay small.
    let benching = std::env::args().any(|arg| arg == "--bench");
    let seconds: u64 = std::env::var("SIM_ECHO_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benching { 20 } else { 1 });

    // Warm-up (page in, allocator), not reported.
    echo(1, Duration::from_secs(1), None);

    let run = echo(42, Duration::from_secs(seconds), None);
    let wall = run.wall.as_secs_f64();
    let rt_per_sec = run.round_trips as f64 / wall;
    println!(
        "ping-pong: {} round trips, {} network events, {:.1} s simulated in {:.3} s wall",
        run.round_trips,
        run.events,
        run.sim.as_secs_f64(),
        wall
    );
    println!(
        "ping-pong: {:.0} round trips/s, {:.0} network events/s, {:.1}x turmoil's {:.0} round trips/s (target 10x)",
        rt_per_sec,
        run.events as f64 / wall,
        rt_per_sec / TURMOIL_ROUND_TRIPS_PER_SEC,
        TURMOIL_ROUND_TRIPS_PER_SEC
    );

    seeding_cost(
        Duration::from_secs(seconds.min(5)),
        if benching { 5 } else { 1 },
    );

    let hour = if benching { 3600 } else { 60 };
    let beat = echo(43, Duration::from_secs(hour), Some(Duration::from_secs(1)));
    println!(
        "heartbeat: {} round trips, {} network events, {:.0} s simulated in {:.3} s wall (target < 10 s for 3600 s)",
        beat.round_trips,
        beat.events,
        beat.sim.as_secs_f64(),
        beat.wall.as_secs_f64()
    );
}
