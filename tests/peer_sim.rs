//! The peer and transport of `moonpool-tower` over the simulated network of
//! `moonpool-sim-net`, many seeds under the runner: delivery guarantees
//! across a server crash and restart, the reconnection delays after it on
//! simulated time, and simultaneous connects settling on one connection.
//!
//! Scripted connection faults (bit flips, half-open, stalls, resets) are in
//! `peer_chaos.rs`, the simulator's fault catalogue in
//! `peer_fault_catalogue.rs`, the full reconnection schedule in
//! `peer_backoff_sim.rs`.
//! A failing seed is printed with the command that replays it
//! (`MOONPOOL_SEED=<n> cargo test -p moonpool-tests --test peer_sim -- <test> --exact`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "support/iteration_slot.rs"]
mod iteration_slot;

use iteration_slot::IterationSlot;
use moonpool_codec::{NetworkAddress, Packet, Uid};
use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
use moonpool_sim_net::{BoxError, HostHandle, SimConnector, SimTcpListener};
use moonpool_tower::executor::BoxFuture;
use moonpool_tower::peer::{Outgoing, Peer};
use moonpool_tower::transport::Transport;
use rand::RngExt;
use tokio::time::Instant;
use tower::ServiceExt;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 4500;
const PACKETS: u64 = 40;
const RELIABLE: u64 = 1;
const UNRELIABLE: u64 = 2;

fn server_address() -> NetworkAddress {
    NetworkAddress::new(SERVER_IP.into(), PORT)
}

/// One packet as the server saw it.
#[derive(Debug, Clone, Copy)]
struct Received {
    incarnation: u64,
    /// Index of the connection (the anonymous peer) within the incarnation.
    connection: usize,
    kind: u64,
    number: u64,
}

#[derive(Default)]
struct ServerLog {
    received: Vec<Received>,
    /// The anonymous peer of each connection, per incarnation.
    connections: BTreeMap<u64, Vec<Peer>>,
}

/// Runs a simulated host's tasks through the host's own spawner.
fn host_executor(host: HostHandle) -> impl Fn(BoxFuture) + Clone + Send + Sync + 'static {
    host.spawner()
}

async fn serve(log: Arc<Mutex<ServerLog>>) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let incarnation = host.incarnation();
    let listener = SimTcpListener::bind(("0.0.0.0", PORT)).await?;
    let handler = move |packet: Packet, from: &Peer| {
        let mut log = log.lock().unwrap();
        let connections = log.connections.entry(incarnation).or_default();
        let connection = match connections.iter().position(|p| p.same_peer(from)) {
            Some(index) => index,
            None => {
                connections.push(from.clone());
                connections.len() - 1
            }
        };
        log.received.push(Received {
            incarnation,
            connection,
            kind: packet.token.first,
            number: packet.token.second,
        });
    };
    let _transport = Transport::builder(SimConnector::new())
        .rng(host.rng())
        .listen(server_address(), listener.into_stream())
        .executor(host_executor(host.clone()))
        .inbound(handler)
        .build()?;
    shutdown_signal().cancelled().await;
    Ok(())
}

/// What the client workload observed.
#[derive(Debug, Default)]
struct ClientLog {
    crashed_at: Option<Instant>,
    attempts: Vec<Instant>,
}

async fn client(server_log: Arc<Mutex<ServerLog>>) -> Result<(), BoxError> {
    let client_log = Arc::new(Mutex::new(ClientLog::default()));
    let host = HostHandle::current().ok_or("not in a host")?;
    let sim = host.sim();
    let mut rng = host.rng();
    let connector = {
        let client_log = client_log.clone();
        tower::service_fn(move |to: SocketAddr| {
            client_log.lock().unwrap().attempts.push(Instant::now());
            SimConnector::new().oneshot(to)
        })
    };
    let transport = Transport::builder(connector)
        .rng(host.rng())
        .executor(host_executor(host.clone()))
        .build()?;
    let mut peer = transport.peer(server_address());
    let crash_after = rng.random_range(5..PACKETS - 5);

    for n in 0..PACKETS {
        peer.send(Outgoing::reliable(Packet::new(
            Uid::new(RELIABLE, n),
            vec![0u8; 16],
        )))
        .await?;
        peer.send(Outgoing::unreliable(Packet::new(
            Uid::new(UNRELIABLE, n),
            vec![1u8; 16],
        )))
        .await?;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..50))).await;
        if n == crash_after {
            sim.crash(SERVER_IP)?;
            client_log.lock().unwrap().crashed_at = Some(Instant::now());
            tokio::time::sleep(Duration::from_millis(rng.random_range(500..3000))).await;
            sim.restart(SERVER_IP)?;
        }
    }

    // Every reliable packet reaches the restarted server.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered = {
            let log = server_log.lock().unwrap();
            let last = log.received.iter().map(|r| r.incarnation).max();
            log.received
                .iter()
                .filter(|r| Some(r.incarnation) == last && r.kind == RELIABLE)
                .map(|r| r.number)
                .collect::<std::collections::BTreeSet<_>>()
                .len() as u64
        };
        if delivered == PACKETS {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {delivered} of {PACKETS} reliable packets arrived").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The peer is still used: drop it before the transport shuts down.
    drop(peer);
    transport.shutdown().await;
    // Only identities are left in the server's log: take it out to check.
    let log = std::mem::take(&mut *server_log.lock().unwrap());
    check_deliveries(&log)?;
    check_backoff(&client_log.lock().unwrap())?;
    Ok(())
}

/// Checks the server's log against the delivery guarantees.
fn check_deliveries(log: &ServerLog) -> Result<(), String> {
    let incarnations: std::collections::BTreeSet<u64> =
        log.received.iter().map(|r| r.incarnation).collect();
    if incarnations.len() < 2 {
        return Err(format!(
            "the crash did not split deliveries: {incarnations:?}"
        ));
    }
    let mut last_reliable: BTreeMap<(u64, usize), u64> = BTreeMap::new();
    let mut unreliable_seen = BTreeMap::new();
    for r in &log.received {
        match r.kind {
            RELIABLE => {
                let key = (r.incarnation, r.connection);
                if let Some(previous) = last_reliable.insert(key, r.number)
                    && r.number <= previous
                {
                    return Err(format!(
                        "reliable {} after {previous} on one connection: {r:?}",
                        r.number
                    ));
                }
            }
            UNRELIABLE => {
                if unreliable_seen.insert(r.number, ()).is_some() {
                    return Err(format!("unreliable {} delivered twice", r.number));
                }
            }
            other => return Err(format!("unknown packet kind {other}")),
        }
    }
    Ok(())
}

/// Checks the reconnection delays after the crash against FoundationDB's
/// schedule: attempt `k`'s delay is `min(500 ms, 50 ms * 1.2^k)` times a
/// factor in `[0.9, 1.1]`; a refused connect adds one simulated round trip.
fn check_backoff(log: &ClientLog) -> Result<(), String> {
    let crashed_at = log.crashed_at.ok_or("no crash")?;
    let after: Vec<Instant> = log
        .attempts
        .iter()
        .copied()
        .filter(|at| *at > crashed_at)
        .collect();
    if after.len() < 3 {
        return Err(format!(
            "only {} connect attempts while the server was down",
            after.len()
        ));
    }
    for (k, pair) in after.windows(2).enumerate() {
        let k = k as i32 + 1;
        let ceiling = (0.05 * 1.2f64.powi(k)).min(0.5);
        let gap = (pair[1] - pair[0]).as_secs_f64();
        if gap < ceiling * 0.9 - 1e-6 || gap > ceiling * 1.1 + 0.005 {
            return Err(format!(
                "reconnect gap {k} is {gap:.4} s, ceiling {ceiling:.4} s"
            ));
        }
    }
    Ok(())
}

/// The server crash scenario: a restartable server, a client that crashes
/// and restarts it once while sending.
fn crash_scenario() -> SimulationBuilder {
    let slot = IterationSlot::<ServerLog>::default();
    let server_slot = slot.clone();
    SimulationBuilder::new()
        .host("server", SERVER_IP, move || {
            let log = server_slot.current();
            async move { serve(log?).await }
        })
        .workload("client", CLIENT_IP, move || client(slot.start()))
        .budget(Duration::from_secs(120))
}

/// A node that listens, sends `PACKETS` reliable packets to `other` at
/// once, waits for the other's, then checks it kept exactly one connection.
async fn symmetric_node(me: Ipv4Addr, other: Ipv4Addr) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let listener = SimTcpListener::bind(("0.0.0.0", PORT)).await?;
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let transport = Transport::builder(SimConnector::new())
        .rng(host.rng())
        .listen(NetworkAddress::new(me.into(), PORT), listener.into_stream())
        .executor(host_executor(host.clone()))
        .inbound(move |packet: Packet, _from: &Peer| {
            sink.lock().unwrap().push(packet.token.second);
        })
        .build()?;
    let mut peer = transport.peer(NetworkAddress::new(other.into(), PORT));
    for n in 0..PACKETS {
        peer.send(Outgoing::reliable(Packet::new(
            Uid::new(RELIABLE, n),
            vec![0u8; 8],
        )))
        .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while received
        .lock()
        .unwrap()
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        < PACKETS as usize
    {
        if Instant::now() > deadline {
            return Err("the other node's packets did not all arrive".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let metrics = peer.metrics();
    let failures = &metrics.failures;
    let ended = failures.total()
        - failures.connect
        - failures.connect_timeout
        - failures.handshake
        - failures.incompatible_version;
    if metrics.connections - ended != 1 {
        return Err(format!(
            "{me} keeps {} connections: {metrics:?}",
            metrics.connections - ended
        )
        .into());
    }
    // Both nodes check before either shuts down.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(peer);
    transport.shutdown().await;
    Ok(())
}

#[test]
fn simultaneous_connects_settle_on_one_connection_for_every_seed() {
    SimulationBuilder::new()
        .workload("a", SERVER_IP, || symmetric_node(SERVER_IP, CLIENT_IP))
        .workload("b", CLIENT_IP, || symmetric_node(CLIENT_IP, SERVER_IP))
        .iterations(Iterations::Fixed(SEEDS))
        .run()
        .unwrap()
        .assert_passed();
}

/// Seeds per test in CI; `MOONPOOL_ITERATIONS` scales them.
const SEEDS: u64 = 200;

#[test]
fn reliable_packets_arrive_in_order_and_unreliable_at_most_once_across_a_server_crash() {
    crash_scenario()
        .iterations(Iterations::Fixed(SEEDS))
        .run()
        .unwrap()
        .assert_passed();
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for scenario in [
        crash_scenario(),
        SimulationBuilder::new()
            .workload("a", SERVER_IP, || symmetric_node(SERVER_IP, CLIENT_IP))
            .workload("b", CLIENT_IP, || symmetric_node(CLIENT_IP, SERVER_IP)),
    ] {
        let run = scenario.verify_determinism(7).unwrap();
        assert_eq!(run.failure, None);
        assert!(run.events > 0);
    }
}

#[test]
#[ignore = "long sweep: cargo test -p moonpool-tests --test peer_sim -- --ignored"]
fn delivery_guarantees_hold_for_a_thousand_seeds() {
    crash_scenario()
        .iterations(Iterations::Fixed(1000))
        .run()
        .unwrap()
        .assert_passed();
}
