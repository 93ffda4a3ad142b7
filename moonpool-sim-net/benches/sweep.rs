//! Seeds per second of a sweep on one thread against every core, in the
//! same run, and whether the two reports agree.
//!
//! The workload: an echo server and four clients doing 20 round trips each
//! under chaos faults. Run: `cargo bench -p moonpool-sim-net --bench sweep`
//! (optional env: `SWEEP_SEEDS`, default 400; `SWEEP_ROUNDS`, default 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::time::Duration;

use moonpool_sim_net::runner::{
    EnvOverrides, Iterations, Seeds, SimulationBuilder, SimulationReport,
};
use moonpool_sim_net::{FaultConfig, SimTcpListener, SimTcpStream, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PORT: u16 = 7000;
const CLIENTS: u8 = 4;
const ROUND_TRIPS: u64 = 20;

async fn server() -> std::io::Result<()> {
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
}

async fn client() -> std::io::Result<()> {
    let mut done = 0;
    while done < ROUND_TRIPS {
        let Ok(mut stream) = SimTcpStream::connect((SERVER, PORT)).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while done < ROUND_TRIPS {
            let ok = async {
                stream.write_all(&done.to_le_bytes()).await?;
                let mut reply = [0u8; 8];
                stream.read_exact(&mut reply).await
            };
            if ok.await.is_err() {
                break;
            }
            done += 1;
        }
    }
    Ok(())
}

fn sweep(seeds: u64, jobs: u64) -> SimulationBuilder {
    let mut builder = SimulationBuilder::new()
        .host("server", SERVER, server)
        .faults(FaultConfig::chaos())
        .seeds(Seeds::Derived { base: 7 })
        .iterations(Iterations::Fixed(seeds))
        .budget(Duration::from_secs(120))
        .check_determinism(false)
        .progress(false)
        .jobs(jobs);
    for i in 0..CLIENTS {
        builder = builder.workload(
            &format!("client-{i}"),
            Ipv4Addr::new(10, 0, 1, i + 1),
            client,
        );
    }
    builder
}

/// The report without its wall-clock figures, as JSON.
fn essence(report: &SimulationReport) -> String {
    let mut report = report.clone();
    report.wall_seconds = 0.0;
    report.events_per_second = 0.0;
    report.to_json()
}

fn main() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    // `cargo test --benches` runs this without `--bench`: stay small.
    let benching = std::env::args().any(|arg| arg == "--bench");
    let seeds = env("SWEEP_SEEDS", if benching { 400 } else { 20 });
    let rounds = env("SWEEP_ROUNDS", if benching { 3 } else { 1 });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);

    let run = |jobs| {
        let report = sweep(seeds, jobs)
            .run_report_with(&EnvOverrides::default())
            .unwrap();
        (seeds as f64 / report.wall_seconds, report)
    };
    let (mut one, mut all) = (Vec::new(), Vec::new());
    let mut reference = None;
    for _ in 0..rounds {
        let (rate, report) = run(1);
        one.push(rate);
        let reference = reference.get_or_insert_with(|| essence(&report));
        let (rate, report) = run(cores);
        all.push(rate);
        assert_eq!(
            &essence(&report),
            reference,
            "the report does not depend on the number of threads"
        );
    }
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let (one, all) = (median(&mut one), median(&mut all));
    println!(
        "sweep of {seeds} seeds: {one:.0} seeds/s on 1 thread, {all:.0} seeds/s on {cores} ({:.2}x), reports identical (median of {rounds} alternated rounds)",
        all / one
    );
}
