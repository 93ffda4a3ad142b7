//! Per-peer control over the simulated network, many seeds under the
//! runner: `Peer::close_connection` and `Peer::reconnect` close the open
//! connection with FIN, and every reliable packet still held is resent, in
//! order, on the next connection; unreliable packets arrive at most once.
//! The real-TCP counterpart is `moonpool-tower/tests/peer_control.rs`.
//! A failing seed is printed with the command that replays it
//! (`MOONPOOL_SEED=<n> cargo test -p moonpool-tests --test peer_control_sim -- <test> --exact`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
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
use moonpool_tower::peer::{ConnectionError, ConnectionEvents, Outgoing, Peer, PeerState};
use moonpool_tower::transport::Transport;
use rand::RngExt;
use tokio::time::Instant;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 4500;
const PACKETS: u64 = 30;
const RELIABLE: u64 = 1;
const UNRELIABLE: u64 = 2;
/// Seeds per test in CI; `MOONPOOL_ITERATIONS` scales them.
const SEEDS: u64 = 100;
const WITHIN: Duration = Duration::from_secs(20);

fn server_address() -> NetworkAddress {
    NetworkAddress::new(SERVER_IP.into(), PORT)
}

/// What the server received: per packet, the index of the connection (the
/// client is anonymous, so each connection is its own peer), kind, number.
#[derive(Default)]
struct ServerLog {
    received: Vec<(usize, u64, u64)>,
    connections: Vec<Peer>,
}

fn host_executor(host: HostHandle) -> impl Fn(BoxFuture) + Clone + Send + Sync + 'static {
    move |task: BoxFuture| {
        drop(host.spawn(task));
    }
}

async fn serve(log: Arc<Mutex<ServerLog>>) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let listener = SimTcpListener::bind(("0.0.0.0", PORT)).await?;
    let handler = move |packet: Packet, from: &Peer| {
        let mut log = log.lock().unwrap();
        let connection = match log.connections.iter().position(|p| p.same_peer(from)) {
            Some(index) => index,
            None => {
                log.connections.push(from.clone());
                log.connections.len() - 1
            }
        };
        log.received
            .push((connection, packet.token.first, packet.token.second));
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

async fn connected(events: &mut ConnectionEvents) -> Result<(), BoxError> {
    tokio::time::timeout(WITHIN, events.wait_for(|e| e.state == PeerState::Connected))
        .await
        .map_err(|_| "no connection in time")??;
    Ok(())
}

async fn client(log: Arc<Mutex<ServerLog>>) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let mut rng = host.rng();
    let transport = Transport::builder(SimConnector::new())
        .rng(host.rng())
        .executor(host_executor(host.clone()))
        .build()?;
    let mut peer = transport.peer(server_address());
    let mut events = peer.connection_events();
    let close_at = rng.random_range(1..PACKETS / 2);
    let reconnect_at = rng.random_range(PACKETS / 2..PACKETS - 1);

    for n in 0..PACKETS {
        let reliable = Packet::new(Uid::new(RELIABLE, n), vec![0u8; 16]);
        peer.send(Outgoing::reliable(reliable)).await?;
        let unreliable = Packet::new(Uid::new(UNRELIABLE, n), vec![1u8; 16]);
        peer.send(Outgoing::unreliable(unreliable)).await?;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..20))).await;
        if n == close_at {
            connected(&mut events).await?;
            peer.close_connection();
        }
        if n == reconnect_at {
            connected(&mut events).await?;
            peer.reconnect();
        }
    }

    // Nothing was acknowledged, so every reliable packet is held and the
    // last connection carries all of them.
    let deadline = Instant::now() + WITHIN;
    while !last_connection_has_every_reliable_packet(&log.lock().unwrap()) {
        if Instant::now() > deadline {
            return Err("the last connection did not carry every reliable packet".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = peer.metrics();
    if metrics.failures.closed_locally != 2 || metrics.failures.total() != 2 {
        return Err(format!("two local closes expected, got {:?}", metrics.failures).into());
    }
    if metrics.connections != 3 {
        return Err(format!("three connections expected, got {}", metrics.connections).into());
    }
    // The server saw each closed connection end with FIN, not a reset.
    while !closed_connections_saw_fin(&log.lock().unwrap())? {
        if Instant::now() > deadline {
            return Err("the server did not see the closed connections end".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check_deliveries(&log.lock().unwrap())?;
    drop(peer);
    transport.shutdown().await;
    // The server's log holds peers of its transport: empty it in time.
    *log.lock().unwrap() = ServerLog::default();
    Ok(())
}

fn last_connection_has_every_reliable_packet(log: &ServerLog) -> bool {
    let last = log.connections.len().saturating_sub(1);
    let numbers: BTreeSet<u64> = log
        .received
        .iter()
        .filter(|(c, kind, _)| *c == last && *kind == RELIABLE)
        .map(|(_, _, n)| *n)
        .collect();
    log.connections.len() == 3 && numbers.len() as u64 == PACKETS
}

/// Whether every connection but the last has ended, each with a FIN.
fn closed_connections_saw_fin(log: &ServerLog) -> Result<bool, String> {
    let closed = &log.connections[..log.connections.len().saturating_sub(1)];
    for peer in closed {
        match peer.last_error().as_deref() {
            None => return Ok(false),
            Some(ConnectionError::Closed) => {}
            Some(other) => return Err(format!("a closed connection ended with {other}")),
        }
    }
    Ok(true)
}

/// Reliable packets in increasing order on each connection; unreliable
/// ones at most once.
fn check_deliveries(log: &ServerLog) -> Result<(), String> {
    let mut last_reliable = vec![None; log.connections.len()];
    let mut unreliable = BTreeSet::new();
    for &(connection, kind, number) in &log.received {
        match kind {
            RELIABLE => {
                if last_reliable[connection].is_some_and(|previous| number <= previous) {
                    return Err(format!("reliable {number} out of order on {connection}"));
                }
                last_reliable[connection] = Some(number);
            }
            UNRELIABLE if !unreliable.insert(number) => {
                return Err(format!("unreliable {number} delivered twice"));
            }
            UNRELIABLE => {}
            other => return Err(format!("unknown packet kind {other}")),
        }
    }
    Ok(())
}

fn scenario() -> SimulationBuilder {
    let slot = IterationSlot::<ServerLog>::default();
    let server_slot = slot.clone();
    SimulationBuilder::new()
        .host("server", SERVER_IP, move || {
            let log = server_slot.current();
            async move { serve(log?).await }
        })
        .workload("client", CLIENT_IP, move || client(slot.start()))
}

#[test]
fn closing_or_reconnecting_a_peer_resends_every_held_reliable_packet_on_the_next_connection() {
    scenario()
        .iterations(Iterations::Fixed(SEEDS))
        .run()
        .unwrap()
        .assert_passed();
}
