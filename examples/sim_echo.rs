//! The echo workload as a simulation test: 25 client hosts, each doing TCP
//! ping-pong of 8-byte messages with its own server host over the simulated
//! network (latency 100 µs..1 ms), for many seeds under the runner.
//!
//! Every reply is checked with `always!`; `sometimes!` records what the
//! seeds explored (a `buggify!` in the servers delays some echoes); servers
//! publish the bytes they echoed and clients the bytes they sent, and an
//! invariant checks at quiescence, after the servers stopped on the shutdown
//! signal, that each server echoed exactly what its client sent. The run
//! prints its report with the `sometimes!` coverage table, and the
//! throughput.
//!
//! ```sh
//! cargo run --release --example sim_echo            # 16 seeds, 1 simulated second each
//! cargo run --release --example sim_echo -- 60s     # benchmark: one seed, 60 simulated seconds
//! cargo run --release --example sim_echo -- 5000    # benchmark: one seed, 5000 round trips per client
//! SIM_ECHO=2s cargo run --example sim_echo          # same, from the environment
//! ```
//!
//! The runner's environment variables apply in both modes:
//! `MOONPOOL_ITERATIONS=1000` (more seeds), `MOONPOOL_SEEDS=0..100` (a
//! slice), `MOONPOOL_SEED=<n>` (replay one), `MOONPOOL_REPORT=r.json` (the
//! report as JSON), `MOONPOOL_TRACE=t.json` with `MOONPOOL_SEED` (the
//! seed's timeline, for <https://ui.perfetto.dev>).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::invariants::{Invariant, publish};
use moonpool_sim_net::runner::{Iterations, Seeds, SimulationBuilder, SimulationReport};
use moonpool_sim_net::{
    NetConfig, SimHandle, SimTcpListener, SimTcpStream, always, buggify, sometimes, spawn,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAIRS: u8 = 25;
const PORT: u16 = 7000;
/// Seeds of a default run (`MOONPOOL_ITERATIONS` overrides).
const SEEDS: u64 = 16;
/// The benchmark's seed, as before the runner.
const BENCH_SEED: u64 = 2024;
/// Simulated time each client runs in a default run.
const DEFAULT_LENGTH: Duration = Duration::from_secs(1);
/// A buggified echo waits this long first.
const BUGGIFIED_DELAY: Duration = Duration::from_millis(3);
/// An echo slower than this was delayed by more than the network.
const NETWORK_RTT: Duration = Duration::from_millis(2);

/// How long each client runs: simulated time ("10s") or round trips ("5000").
#[derive(Clone, Copy, Debug)]
enum Length {
    Simulated(Duration),
    RoundTrips(u64),
}

impl Length {
    fn parse(arg: &str) -> Option<Length> {
        match arg.strip_suffix('s') {
            Some(secs) => secs
                .parse()
                .ok()
                .map(Duration::from_secs_f64)
                .map(Length::Simulated),
            None => arg.parse().ok().map(Length::RoundTrips),
        }
    }

    fn done(self, sim: &SimHandle, round_trips: u64) -> bool {
        match self {
            Length::Simulated(d) => sim.elapsed() >= d,
            Length::RoundTrips(n) => round_trips >= n,
        }
    }

    /// The iteration's budget of simulated time: the length with room to
    /// spare, or a day for a round-trip count.
    fn budget(self) -> Duration {
        match self {
            Length::Simulated(d) => d * 2 + Duration::from_secs(10),
            Length::RoundTrips(_) => Duration::from_secs(24 * 3600),
        }
    }
}

fn server_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, i)
}

fn client_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i)
}

/// Echoes 8-byte messages on every connection it accepts, until the
/// shutdown signal; publishes the bytes it echoed.
async fn server(ip: Ipv4Addr) -> io::Result<()> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    let shutdown = shutdown_signal();
    let echoed = Arc::new(AtomicU64::new(0));
    publish(ip, "echoed", 0_u64);
    loop {
        let (mut stream, _) = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                sometimes!(true, "a server stopped on the shutdown signal");
                return Ok(());
            }
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let echoed = echoed.clone();
        spawn(async move {
            let mut buf = [0u8; 8];
            while stream.read_exact(&mut buf).await.is_ok() {
                if buggify!() {
                    tokio::time::sleep(BUGGIFIED_DELAY).await;
                }
                if stream.write_all(&buf).await.is_err() {
                    break;
                }
                publish(ip, "echoed", echoed.fetch_add(8, Ordering::Relaxed) + 8);
            }
        });
    }
}

/// Sends a counter, checks it comes back, until `length` is reached;
/// publishes the bytes it sent.
async fn client(
    ip: Ipv4Addr,
    server: Ipv4Addr,
    length: Length,
    total: Arc<AtomicU64>,
) -> io::Result<()> {
    let sim = SimHandle::current().expect("runs inside a simulated host");
    let mut stream = SimTcpStream::connect((server, PORT)).await?;
    stream.set_nodelay(true)?;
    let mut round_trips = 0u64;
    while !length.done(&sim, round_trips) {
        let sent_at = tokio::time::Instant::now();
        stream.write_all(&round_trips.to_le_bytes()).await?;
        let mut reply = [0u8; 8];
        stream.read_exact(&mut reply).await?;
        let echoed = u64::from_le_bytes(reply);
        always!(
            echoed == round_trips,
            "echo returns what was sent",
            "sent {round_trips}, got {echoed}"
        );
        let rtt = sent_at.elapsed();
        sometimes!(rtt <= NETWORK_RTT, "an echo at network speed");
        sometimes!(rtt > NETWORK_RTT, "an echo delayed by the server");
        round_trips += 1;
        publish(ip, "sent", round_trips * 8);
    }
    total.fetch_add(round_trips, Ordering::Relaxed);
    Ok(())
}

/// Each server echoed exactly the bytes its client sent.
fn echoed_what_was_sent(i: u8) -> Invariant {
    let (client, server) = (client_ip(i), server_ip(i));
    Invariant::new(
        format!("server-{i} echoed what client-{i} sent"),
        move |state| {
            let sent = state.get::<u64>(client, "sent").copied().unwrap_or(0);
            let echoed = state.get::<u64>(server, "echoed").copied().unwrap_or(0);
            if sent == echoed {
                Ok(())
            } else {
                Err(format!("client sent {sent} bytes, server echoed {echoed}"))
            }
        },
    )
}

/// The echo simulation: `PAIRS` server/client pairs, clients running for
/// `length`, round trips counted into `total`.
fn echo_simulation(length: Length, total: &Arc<AtomicU64>) -> SimulationBuilder {
    let mut builder = SimulationBuilder::new()
        .net(NetConfig {
            latency: Duration::from_micros(100)..=Duration::from_millis(1),
            ..NetConfig::default()
        })
        .budget(length.budget());
    for i in 1..=PAIRS {
        let (server_ip, client_ip) = (server_ip(i), client_ip(i));
        let total = total.clone();
        builder = builder
            .host(&format!("server-{i}"), server_ip, move || server(server_ip))
            .workload(&format!("client-{i}"), client_ip, move || {
                client(client_ip, server_ip, length, total.clone())
            })
            .invariant(echoed_what_was_sent(i));
    }
    builder
}

/// Wall-clock measurement for the printout only; never feeds the simulation.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn print_throughput(report: &SimulationReport, round_trips: u64, wall: Duration) {
    let wall = wall.as_secs_f64().max(1e-9);
    println!("pairs:             {PAIRS}");
    println!("round trips:       {round_trips}");
    println!("network events:    {}", report.events);
    println!("simulated seconds: {:.3}", report.sim_seconds);
    println!("wall seconds:      {wall:.3}");
    println!(
        "round trips per wall second: {:.0}",
        round_trips as f64 / wall
    );
    println!(
        "events per wall second:      {:.0}",
        report.events as f64 / wall
    );
}

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: sim_echo [SECONDSs | ROUND_TRIPS]   (e.g. 10s or 5000; or SIM_ECHO=...)

25 client/server host pairs ping-pong on the simulator through the runner:
without an argument, many short seeds with a coverage table; with one, a
single long seed as a benchmark (honours MOONPOOL_SEED, MOONPOOL_REPORT, ...).";

fn main() -> ExitCode {
    let args = match cli::parse(USAGE, &[], true) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let arg = args.positional.or_else(|| std::env::var("SIM_ECHO").ok());
    let length = match &arg {
        Some(arg) => match Length::parse(arg) {
            Some(length) => length,
            None => return cli::usage_error(USAGE, &format!("`{arg}` is not a length")),
        },
        None => Length::Simulated(DEFAULT_LENGTH),
    };
    let total = Arc::new(AtomicU64::new(0));
    let mut simulation = echo_simulation(length, &total);
    simulation = match &arg {
        // Benchmark mode: one long seed, replayed with the same length.
        Some(arg) => simulation
            .seeds(Seeds::List(vec![BENCH_SEED]))
            .iterations(Iterations::Fixed(1))
            .replay_command(format!(
                "MOONPOOL_SEED={{seed}} SIM_ECHO={arg} cargo run --release --example sim_echo"
            )),
        None => simulation.iterations(Iterations::Fixed(SEEDS)),
    };

    let (report, wall) = timed(|| simulation.run_report());
    let report = match report {
        Ok(report) => report,
        Err(error) => return cli::runner_exit("sim_echo", &error),
    };
    print!("{report}");
    print_throughput(&report, total.load(Ordering::Relaxed), wall);

    // The determinism check on one seed of a default run: the same seed
    // twice in this process gives the same event trace.
    if arg.is_none()
        && let Some(&seed) = report.trace_hashes.keys().next()
    {
        match simulation.verify_determinism(seed) {
            Ok(run) => println!(
                "determinism:       seed {seed} ran twice to trace {:016x}",
                run.trace_hash.unwrap_or_default()
            ),
            Err(divergence) => {
                eprintln!("{divergence}");
                return ExitCode::FAILURE;
            }
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moonpool_sim_net::runner::EnvOverrides;

    #[test]
    fn the_echo_workload_is_deterministic() {
        let total = Arc::new(AtomicU64::new(0));
        let simulation = echo_simulation(Length::RoundTrips(20), &total);
        for seed in [1, 2] {
            let run = simulation.verify_determinism(seed).unwrap();
            assert_eq!(run.failure, None);
        }
    }

    #[test]
    fn a_short_echo_sweep_passes_and_covers_every_sometimes() {
        let total = Arc::new(AtomicU64::new(0));
        let report = echo_simulation(Length::RoundTrips(20), &total)
            .iterations(Iterations::UntilAllSometimes { max: 64 })
            // One at a time: `total` counts the work of every iteration run,
            // and side-by-side workers may run past the seed that completes
            // the coverage (their results are not absorbed).
            .jobs(1)
            .progress(false)
            .run_with(&EnvOverrides::default())
            .unwrap();
        report.assert_passed();
        assert_eq!(report.coverage.sometimes.len(), 3);
        assert_eq!(
            report.coverage.sometimes["a server stopped on the shutdown signal"],
            report.iterations
        );
        // The determinism check ran its seeds a second time.
        assert_eq!(
            total.load(Ordering::Relaxed),
            (report.iterations + report.determinism_checked) * 20 * u64::from(PAIRS)
        );
    }
}
