//! The peer's reconnection schedule on simulated time, many seeds.
//!
//! A client peer keeps trying a server host that is down. The gaps between
//! its connection attempts, measured with `tokio::time::Instant` inside the
//! simulation, follow FoundationDB's schedule: attempt `k` waits
//! `min(500 ms, 50 ms × 1.2^k)` times a jitter factor in `[0.9, 1.1]`, plus
//! the round trip of the refused attempt. Once the server is back the peer
//! connects within one capped delay; a connection that stayed up 5 s
//! restarts the schedule at 50 ms.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/faulty_io.rs"]
mod faulty_io;
#[path = "support/wire_audit.rs"]
mod wire_audit;

use std::time::Duration;

use faulty_io::{FaultMix, FaultyConnector};
use moonpool_codec::{NetworkAddress, Packet, Uid};
use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
use moonpool_sim_net::{BoxError, HostHandle, SimTcpListener, always};
use moonpool_tower::executor::BoxFuture;
use moonpool_tower::peer::{Outgoing, PeerConfig, PeerState};
use moonpool_tower::transport::Transport;
use std::net::Ipv4Addr;
use tokio::time::Instant;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 4500;
/// How long the server stays down: enough to reach the cap and stay there.
const DOWN_FOR: Duration = Duration::from_secs(8);
/// A refused attempt's round trip plus the 1 ms timer tick, at most.
const ROUND_TRIP_SLACK: f64 = 0.005;

fn host_executor(host: HostHandle) -> impl Fn(BoxFuture) + Clone + Send + Sync + 'static {
    move |task: BoxFuture| {
        drop(host.spawn(task));
    }
}

async fn server() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let listener = SimTcpListener::bind(("0.0.0.0", PORT)).await?;
    let _transport = Transport::builder(host.connector())
        .rng(host.rng())
        .listen(
            NetworkAddress::new(SERVER_IP.into(), PORT),
            listener.into_stream(),
        )
        .executor(host_executor(host.clone()))
        .build()?;
    shutdown_signal().cancelled().await;
    Ok(())
}

/// The un-jittered delay before attempt `k + 1` after `k + 1` failures.
fn ceiling(k: usize) -> f64 {
    let schedule = PeerConfig::default().reconnect;
    (schedule.initial.as_secs_f64() * schedule.factor.powi(k as i32))
        .min(schedule.cap.as_secs_f64())
}

fn check_gaps(attempts: &[Instant]) -> Result<(), String> {
    if attempts.len() < 20 {
        return Err(format!("only {} attempts in {DOWN_FOR:?}", attempts.len()));
    }
    let mut factors = Vec::new();
    for (k, pair) in attempts.windows(2).enumerate() {
        let gap = (pair[1] - pair[0]).as_secs_f64();
        let ceiling = ceiling(k);
        if gap < ceiling * 0.9 - 1e-6 || gap > ceiling * 1.1 + ROUND_TRIP_SLACK {
            return Err(format!(
                "gap {k} is {gap:.4} s, outside [{:.4}, {:.4}] s",
                ceiling * 0.9,
                ceiling * 1.1 + ROUND_TRIP_SLACK
            ));
        }
        factors.push(gap / ceiling);
    }
    // Jitter keeps the clients of one server apart: the capped delays differ.
    let capped: Vec<f64> = factors.iter().copied().skip(14).collect();
    let spread = capped.iter().copied().fold(f64::MIN, f64::max)
        - capped.iter().copied().fold(f64::MAX, f64::min);
    always!(
        spread > 0.02,
        "capped reconnection delays are jittered",
        "factors {capped:?}"
    );
    Ok(())
}

/// Crashes the server, lets the peer retry for [`DOWN_FOR`], restarts it,
/// checks the schedule; then, after 6 s connected, crashes it again and
/// checks that the schedule restarted at its initial delay.
async fn client() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let sim = host.sim();
    sim.crash(SERVER_IP)?;
    let connector = FaultyConnector::new(host.connector(), FaultMix::QUIET, host.rng());
    let transport = Transport::builder(connector.clone())
        .rng(host.rng())
        .executor(host_executor(host.clone()))
        .build()?;
    let mut peer = transport.peer(NetworkAddress::new(SERVER_IP.into(), PORT));
    let mut events = peer.connection_events();
    peer.send(Outgoing::reliable(Packet::new(Uid::new(1, 1), &b"x"[..])))
        .await?;

    tokio::time::sleep(DOWN_FOR).await;
    always!(
        peer.metrics().connections == 0,
        "no connection to a dead host"
    );
    check_gaps(&connector.attempts())?;

    sim.restart(SERVER_IP)?;
    let restarted = Instant::now();
    events
        .wait_for(|epoch| epoch.state == PeerState::Connected)
        .await?;
    let reconnect = restarted.elapsed().as_secs_f64();
    let longest = ceiling(100) * 1.1 + ROUND_TRIP_SLACK;
    always!(
        reconnect <= longest,
        "a restarted server is found within one capped delay",
        "took {reconnect:.4} s"
    );

    // Connected for longer than the reset time (5 s): the next failure
    // restarts the schedule.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let before = connector.attempts().len();
    sim.crash(SERVER_IP)?;
    let crashed = Instant::now();
    while connector.attempts().len() == before {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first = (connector.attempts()[before] - crashed).as_secs_f64();
    let initial = ceiling(0);
    always!(
        first >= initial * 0.9 - 1e-6 && first <= initial * 1.1 + ROUND_TRIP_SLACK,
        "a connection that stayed up restarts the schedule",
        "first reconnection after {first:.4} s"
    );
    drop(peer);
    transport.shutdown().await;
    Ok(())
}

fn simulation() -> SimulationBuilder {
    SimulationBuilder::new()
        .host("server", SERVER_IP, server)
        .workload("client", CLIENT_IP, client)
}

#[test]
fn reconnection_attempts_follow_the_foundationdb_schedule_on_simulated_time() {
    let report = simulation()
        .iterations(Iterations::Fixed(100))
        .run()
        .unwrap();
    println!("{report}");
    report.assert_passed();
}

#[test]
fn the_reconnection_schedule_is_deterministic() {
    let run = simulation().verify_determinism(11).unwrap();
    assert_eq!(run.failure, None);
}
