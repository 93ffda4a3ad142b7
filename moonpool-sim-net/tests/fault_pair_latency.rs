//! Per-pair base latency (`LatencyFaults::pair_base_max`), observed the way
//! a workload sees it: the one-way delivery time of a byte on a simulated
//! connection, measured on the shared simulated clock.
//!
//! The latency model is narrowed so that the pair's base is all that
//! varies: every packet takes a fixed `HOP` plus its pair's base, no jitter
//! and no slow tail. Every host sends one byte to every other host on a
//! fresh connection, several rounds apart; the receiver stamps its arrival.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fault_support::{PORT, ip, ms, only, secs};
use moonpool_sim_net::{FaultConfig, Sim, SimTcpListener, SimTcpStream, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const HOSTS: u8 = 4;
const ROUNDS: u8 = 4;
/// Every packet's latency apart from its pair's base.
const HOP: Duration = Duration::from_millis(1);
const PAIR_BASE_MAX: Duration = Duration::from_millis(400);
/// tokio's timer fires on whole milliseconds.
const RESOLUTION: Duration = Duration::from_millis(1);

/// One ordered pair and round: `(from, to, round)`, host numbers.
type Sample = (u8, u8, u8);

#[derive(Default)]
struct Stamps {
    sent: BTreeMap<Sample, Instant>,
    received: BTreeMap<Sample, Instant>,
}

fn pair_latency_only() -> FaultConfig {
    only(|f| {
        f.latency.enabled = true;
        f.latency.min = HOP;
        f.latency.fast = HOP;
        f.latency.slow_probability = 0.0;
        f.latency.jitter_max = Duration::ZERO;
        f.latency.pair_base_max = PAIR_BASE_MAX;
    })
}

fn host_number(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(_) => panic!("the simulation uses IPv4"),
    }
}

/// Host `me`: stamps every byte it receives, and sends one to each other
/// host per round, each on a new connection.
async fn node(me: u8, stamps: Arc<Mutex<Stamps>>) -> std::io::Result<()> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    let inbox = stamps.clone();
    spawn(async move {
        while let Ok((mut stream, from)) = listener.accept().await {
            let inbox = inbox.clone();
            spawn(async move {
                let mut round = [0u8; 1];
                if stream.read_exact(&mut round).await.is_ok() {
                    let sample = (host_number(from.ip()), me, round[0]);
                    inbox
                        .lock()
                        .unwrap()
                        .received
                        .insert(sample, Instant::now());
                }
            });
        }
    });
    for round in 0..ROUNDS {
        for to in (1..=HOSTS).filter(|to| *to != me) {
            let mut stream = SimTcpStream::connect((ip(to), PORT)).await?;
            stamps
                .lock()
                .unwrap()
                .sent
                .insert((me, to, round), Instant::now());
            stream.write_all(&[round]).await?;
            // Drop the connection only once the byte has surely arrived.
            spawn(async move {
                tokio::time::sleep(2 * (HOP + PAIR_BASE_MAX)).await;
                drop(stream);
            });
        }
        tokio::time::sleep(ms(50)).await;
    }
    // Stay up until every other host's bytes have arrived.
    tokio::time::sleep(secs(10)).await;
    Ok(())
}

/// The one-way delivery time of every sample of a seed.
fn one_way_latencies(seed: u64) -> BTreeMap<Sample, Duration> {
    let stamps = Arc::new(Mutex::new(Stamps::default()));
    let mut sim = Sim::new(seed).faults(pair_latency_only());
    for me in 1..=HOSTS {
        sim = sim.workload(&format!("host{me}"), ip(me), node(me, stamps.clone()));
    }
    sim.run(secs(120)).unwrap();
    let stamps = stamps.lock().unwrap();
    let samples = usize::from(HOSTS) * usize::from(HOSTS - 1) * usize::from(ROUNDS);
    assert_eq!(stamps.received.len(), samples, "every byte arrived");
    stamps
        .received
        .iter()
        .map(|(sample, at)| (*sample, *at - stamps.sent[sample]))
        .collect()
}

fn close(a: Duration, b: Duration) -> bool {
    a.abs_diff(b) <= RESOLUTION
}

/// The latency of the unordered pair `{a, b}` in round 0, `a -> b`.
fn pair(latencies: &BTreeMap<Sample, Duration>, a: u8, b: u8) -> Duration {
    latencies[&(a, b, 0)]
}

#[test]
fn a_host_pair_keeps_its_base_latency_for_every_connection_within_a_seed() {
    let latencies = one_way_latencies(1);
    for (&(from, to, round), &latency) in &latencies {
        let first = pair(&latencies, from, to);
        assert!(
            close(latency, first),
            "{from}->{to} round {round}: {latency:?}, round 0: {first:?}"
        );
        assert!(latency >= HOP && latency <= HOP + PAIR_BASE_MAX + RESOLUTION);
    }
    assert_eq!(
        latencies,
        one_way_latencies(1),
        "the same seed, the same latencies"
    );
}

#[test]
fn a_host_pair_has_the_same_base_latency_in_both_directions() {
    for seed in 1..=3 {
        let latencies = one_way_latencies(seed);
        for (&(from, to, round), &there) in &latencies {
            let back = latencies[&(to, from, round)];
            assert!(
                close(there, back),
                "seed {seed}: {from}->{to} {there:?}, {to}->{from} {back:?}"
            );
        }
    }
}

#[test]
fn different_host_pairs_draw_different_base_latencies() {
    let latencies = one_way_latencies(2);
    let mut pairs: Vec<(u8, u8, Duration)> = Vec::new();
    for a in 1..=HOSTS {
        for b in a + 1..=HOSTS {
            pairs.push((a, b, pair(&latencies, a, b)));
        }
    }
    let distinct = |x: &Duration, y: &Duration| !close(*x, *y);
    let differing = pairs
        .iter()
        .enumerate()
        .flat_map(|(i, x)| pairs[i + 1..].iter().map(move |y| (x, y)))
        .filter(|(x, y)| distinct(&x.2, &y.2))
        .count();
    // 6 pairs drawn from 0..=400 ms: nearly every two of them differ.
    assert!(
        differing >= 10,
        "only {differing} of 15 pairs of pairs differ: {pairs:?}"
    );
}

#[test]
fn the_same_host_pair_draws_a_different_base_latency_under_another_seed() {
    let per_seed: Vec<Duration> = (10..15)
        .map(|seed| pair(&one_way_latencies(seed), 1, 2))
        .collect();
    let first = per_seed[0];
    assert!(
        per_seed.iter().any(|latency| !close(*latency, first)),
        "hosts 1 and 2 had {first:?} under every seed: {per_seed:?}"
    );
}
