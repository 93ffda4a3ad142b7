//! Per-direction link latency (`NetConfig::link_latency`): a byte from A to
//! B takes A→B's extra latency, a byte back takes B→A's, measured on the
//! shared simulated clock; a configuration without entries keeps the trace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_sim_net::{NetConfig, Sim, SimTcpListener, SimTcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const A_TO_B: Duration = Duration::from_millis(10);
const B_TO_A: Duration = Duration::from_millis(50);
/// The drawn latency (1 ms fixed below) plus tokio's 1 ms timer tick.
const SLACK: Duration = Duration::from_millis(2);

fn fixed_hop() -> NetConfig {
    NetConfig {
        latency: Duration::from_millis(1)..=Duration::from_millis(1),
        ..NetConfig::default()
    }
}

/// One byte A→B and straight back; returns the round trip A measured (the
/// sum of both one-way times) and the trace hash.
fn round_trip(net: NetConfig, seed: u64) -> (Duration, u64) {
    let times = Arc::new(Mutex::new(Duration::ZERO));
    let seen = times.clone();
    let outcome = Sim::new(seed)
        .net(net)
        .host("b", B, || async {
            let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, 80)).await?;
            let (mut stream, _) = listener.accept().await?;
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            stream.write_all(&byte).await?;
            // Stay until A closes, so B's close is no part of the measure.
            let _eof = stream.read(&mut byte).await?;
            Ok::<(), std::io::Error>(())
        })
        .workload("a", A, async move {
            let mut stream = SimTcpStream::connect((B, 80)).await?;
            let mut byte = [7u8; 1];
            let sent = Instant::now();
            stream.write_all(&byte).await?;
            stream.read_exact(&mut byte).await?;
            *seen.lock().unwrap() = sent.elapsed();
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
    let measured = *times.lock().unwrap();
    (measured, outcome.trace_hash)
}

#[test]
fn each_direction_of_a_pair_takes_its_own_link_latency() {
    let net = fixed_hop()
        .with_link_latency(A, B, A_TO_B)
        .with_link_latency(B, A, B_TO_A);
    let (round_trip, _) = round_trip(net, 1);
    let expected = A_TO_B + B_TO_A;
    assert!(
        round_trip >= expected && round_trip <= expected + 2 * SLACK,
        "round trip {round_trip:?}, expected {expected:?} + up to {:?}",
        2 * SLACK
    );
}

#[test]
fn link_latency_of_one_direction_leaves_the_other_alone() {
    let asymmetric = fixed_hop().with_link_latency(B, A, B_TO_A);
    let (slow, _) = round_trip(asymmetric, 2);
    let (quick, _) = round_trip(fixed_hop(), 2);
    assert!(quick <= 2 * SLACK, "round trip without links {quick:?}");
    assert!(
        slow >= quick + B_TO_A - SLACK && slow <= quick + B_TO_A + SLACK,
        "B→A link added {:?}, configured {B_TO_A:?}",
        slow.saturating_sub(quick)
    );
}

#[test]
fn a_config_without_links_keeps_every_trace() {
    let (_, plain) = round_trip(fixed_hop(), 3);
    let unrelated = fixed_hop().with_link_latency(Ipv4Addr::new(10, 9, 9, 9), A, B_TO_A);
    let (_, with_unused_link) = round_trip(unrelated, 3);
    assert_eq!(plain, with_unused_link);
}
