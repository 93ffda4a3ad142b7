//! The chaos soak: echo clients with an application checksum on every
//! message, against restartable echo servers, under `FaultConfig::chaos()`
//! and swarm mode, over many seeds. No iteration may hang, every corruption
//! must be caught by the checksum (and be explained by a bit flip), and every
//! fault kind must fire at least once across the run.
//!
//! CI size: `cargo test -p moonpool-sim-net --test fault_soak`; the long
//! version: `cargo test -p moonpool-sim-net --test fault_soak -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fault_support::{PORT, echo_server, ip, ms, secs};
use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
use moonpool_sim_net::{
    CloseKind, FaultConfig, FaultCounts, FaultKind, Fnv1a64, Sim, SimHandle, SimTcpStream,
    buggified_sleep, timer,
};
use moonpool_sim_net::{always, sometimes};
use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout};

const SERVERS: [u8; 2] = [1, 3];
const CLIENTS: [u8; 3] = [10, 11, 12];
const MAX_PAYLOAD: usize = 2048;
const HEADER: usize = 12;

#[derive(Default)]
struct Tally {
    round_trips: AtomicU64,
    corruptions_caught: AtomicU64,
}

fn checksum(payload: &[u8]) -> u64 {
    let mut hasher = Fnv1a64::new();
    hasher.write(payload);
    hasher.finish()
}

enum Failure {
    Io,
    Corrupt,
}

/// One request/reply: `[len u32][checksum u64][payload]`, echoed back.
async fn round_trip(stream: &mut SimTcpStream, payload: &[u8]) -> Result<(), Failure> {
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_le_bytes());
    frame.extend_from_slice(&checksum(payload).to_le_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await.map_err(|_| Failure::Io)?;
    let mut header = [0u8; HEADER];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|_| Failure::Io)?;
    let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
    if len > MAX_PAYLOAD {
        return Err(Failure::Corrupt);
    }
    let mut back = vec![0u8; len];
    stream
        .read_exact(&mut back)
        .await
        .map_err(|_| Failure::Io)?;
    let sum = u64::from_le_bytes(header[4..].try_into().unwrap());
    if sum != checksum(&back) {
        return Err(Failure::Corrupt);
    }
    assert_eq!(back, payload, "a corruption got past the checksum");
    Ok(())
}

async fn client(tally: Arc<Tally>) -> Result<(), std::io::Error> {
    let mut rng = SimHandle::current().unwrap().host_rng();
    let deadline = Instant::now() + secs(60);
    let mut done = 0;
    let mut server = 0;
    while done < 30 && Instant::now() < deadline {
        server = (server + 1) % SERVERS.len();
        let connect = SimTcpStream::connect((ip(SERVERS[server]), PORT));
        let Ok(Ok(mut stream)) = timeout(secs(1), connect).await else {
            buggified_sleep(ms(100)).await;
            continue;
        };
        while done < 30 {
            let len = rng.random_range(1..=MAX_PAYLOAD);
            let payload: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let started = timer();
            // Longer than the connection timeout (5 s): a long partition or a
            // vanished server fails the connection before the caller gives up.
            match timeout(secs(8), round_trip(&mut stream, &payload)).await {
                Ok(Ok(())) => {
                    done += 1;
                    tally.round_trips.fetch_add(1, Ordering::Relaxed);
                    assert!(timer() >= started, "the drifted clock never goes back");
                }
                Ok(Err(Failure::Corrupt)) => {
                    tally.corruptions_caught.fetch_add(1, Ordering::Relaxed);
                    let flips = SimHandle::current()
                        .unwrap()
                        .fault_counts()
                        .get(FaultKind::BitFlip);
                    always!(flips > 0, "every corruption caught follows a bit flip");
                    break;
                }
                Ok(Err(Failure::Io)) | Err(_) => break,
            }
            buggified_sleep(ms(50)).await;
        }
    }
    Ok(())
}

/// Scripted faults on top of the random ones.
async fn script() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let sim = SimHandle::current().unwrap();
    tokio::time::sleep(secs(3)).await;
    for server in SERVERS {
        sim.close_connections(ip(CLIENTS[0]), ip(server), CloseKind::Reset)?;
    }
    sim.partition(ip(CLIENTS[1]), ip(SERVERS[1]), secs(30))?;
    tokio::time::sleep(secs(2)).await;
    sim.heal()?;
    Ok(())
}

struct Soak {
    faults: FaultCounts,
    round_trips: u64,
    caught: u64,
}

fn iteration(seed: u64, faults: FaultConfig) -> Soak {
    let tally = Arc::new(Tally::default());
    let mut sim = Sim::new(seed).faults(faults);
    for s in SERVERS {
        sim = sim.host(&format!("server-{s}"), ip(s), echo_server);
    }
    for c in CLIENTS {
        sim = sim.workload(&format!("client-{c}"), ip(c), client(tally.clone()));
    }
    sim = sim.workload("script", Ipv4Addr::new(10, 0, 0, 99), script());
    let outcome = sim
        .run(secs(300))
        .unwrap_or_else(|e| panic!("seed {seed}: the iteration must not hang or fail: {e}"));
    let caught = tally.corruptions_caught.load(Ordering::Relaxed);
    let flips = outcome.faults.get(FaultKind::BitFlip);
    assert!(
        caught <= flips,
        "seed {seed}: {caught} corruptions caught but only {flips} bit flips injected"
    );
    Soak {
        faults: outcome.faults,
        round_trips: tally.round_trips.load(Ordering::Relaxed),
        caught,
    }
}

fn soak(seeds: u64) {
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    // Wall time for the report only; it never feeds behaviour.
    let wall = std::time::Instant::now();
    let mut total = FaultCounts::default();
    let (mut round_trips, mut caught) = (0, 0);
    for seed in 0..seeds {
        for faults in [FaultConfig::chaos(), FaultConfig::chaos().swarm(seed)] {
            let soak = iteration(seed, faults);
            total.add(&soak.faults);
            round_trips += soak.round_trips;
            caught += soak.caught;
        }
    }
    println!(
        "soak: {} iterations, {round_trips} round trips, {caught} corruptions caught, {} faults, {:?} wall",
        seeds * 2,
        total.total(),
        wall.elapsed()
    );
    for (kind, count) in total.iter() {
        println!("  {kind:>20}: {count}");
    }
    assert!(round_trips > 0);
    assert!(
        caught > 0,
        "bit flips happened and the checksum caught them"
    );
    let missing: Vec<_> = total
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty(),
        "fault kinds that never fired: {missing:?}"
    );
}

#[test]
fn chaos_soak_ci() {
    soak(40);
}

#[test]
#[ignore = "long soak: run with --ignored"]
fn chaos_soak_long() {
    soak(400);
}

#[test]
fn soak_iteration_is_deterministic() {
    let a = iteration(77, FaultConfig::chaos());
    let b = iteration(77, FaultConfig::chaos());
    assert_eq!(a.faults, b.faults);
    assert_eq!(a.round_trips, b.round_trips);
}

/// Records, at the end of an iteration, which fault kinds fired in it.
async fn fault_coverage() -> Result<(), std::io::Error> {
    tokio::time::sleep(secs(70)).await;
    let counts = SimHandle::current().unwrap().fault_counts();
    for (kind, count) in counts.iter() {
        sometimes!(count > 0, &format!("fault {kind} fired"));
    }
    Ok(())
}

#[test]
fn chaos_soak_through_the_runner_sees_every_fault_kind_sometimes() {
    let mut builder = SimulationBuilder::new()
        .faults(FaultConfig::chaos())
        .swarm(true)
        .budget(secs(300))
        .iterations(Iterations::Fixed(40));
    for s in SERVERS {
        builder = builder.host(&format!("server-{s}"), ip(s), echo_server);
    }
    for c in CLIENTS {
        builder = builder.workload(&format!("client-{c}"), ip(c), || {
            client(Arc::new(Tally::default()))
        });
    }
    let report = builder
        .workload("script", Ipv4Addr::new(10, 0, 0, 99), script)
        .workload("coverage", Ipv4Addr::new(10, 0, 0, 98), fault_coverage)
        .expect_sometimes(
            FaultKind::ALL
                .iter()
                .map(|kind| format!("fault {kind} fired")),
        )
        .run()
        .unwrap();
    report.assert_passed();
    assert!(
        report.missing_sometimes().is_empty(),
        "{:?}",
        report.missing_sometimes()
    );
    assert!(report.faults.get("bit_flip").is_some_and(|&n| n > 0));
}
