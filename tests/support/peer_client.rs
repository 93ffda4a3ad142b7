//! The client node of the peer delivery workload (see `peer_workload.rs`),
//! and the workload as a runner simulation.

#![allow(dead_code)] // Each test target uses a part of the support modules.

use std::collections::{BTreeMap, BTreeSet};
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_codec::{Packet, Uid};
use moonpool_sim_net::invariants::publish;
use moonpool_sim_net::runner::SimulationBuilder;
use moonpool_sim_net::{BoxError, HostHandle, always, sometimes};
use moonpool_tower::peer::{Outgoing, Peer, PeerConfig, ReliableHandle, SendReceipt};
use moonpool_tower::transport::{Transport, TransportConfig};
use rand::RngExt;
use tokio::time::Instant;
use tower::Service;

use super::faulty_io::FaultyConnector;
use super::peer_workload::{
    ACK, CLIENT_IP, IterationSlot, PEER_PATHS, RELIABLE, SERVER_IP, Scenario, UNRELIABLE,
    every_reliable_packet_delivered, host_executor, server, server_address, watch_failures,
};

/// Sends `outgoing`, recording whether `poll_ready` had to wait; a wait
/// must mean the queue is full.
async fn send_observed(
    peer: &mut Peer,
    outgoing: Outgoing,
    capacity: usize,
) -> Result<SendReceipt, BoxError> {
    let mut first = true;
    let mut waited = false;
    poll_fn(|cx| {
        let ready = peer.poll_ready(cx);
        if first && ready.is_pending() {
            waited = true;
            let depth = peer.metrics().queue_depth;
            always!(
                depth >= capacity as u64,
                "poll_ready waits only when the queue is full",
                "queue depth {depth}, capacity {capacity}"
            );
        }
        first = false;
        ready
    })
    .await?;
    sometimes!(waited, "peer queue full backpressure");
    Ok(peer.call(outgoing).await?)
}

/// The client node: sends `scenario.packets` numbered reliable and
/// unreliable packets in random bursts, crashes the server
/// `scenario.crashes` times, then waits until every reliable packet was
/// acknowledged.
pub(crate) async fn client(scenario: Scenario) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let sim = host.sim();
    let mut rng = host.rng();
    let held: Arc<Mutex<BTreeMap<u64, ReliableHandle>>> = Arc::default();
    let acks = held.clone();
    let handler = move |packet: Packet, _from: &Peer| {
        if packet.token.first == ACK {
            let mut held = acks.lock().unwrap();
            let later = held.split_off(&(packet.token.second + 1));
            for handle in std::mem::replace(&mut *held, later).into_values() {
                handle.cancel();
            }
        }
    };
    let connector = FaultyConnector::new(host.connector(), scenario.faults, host.rng());
    let config = TransportConfig {
        peer: PeerConfig {
            queue_capacity: scenario.queue_capacity,
            ..PeerConfig::default()
        },
        ..TransportConfig::default()
    };
    let transport = Transport::builder(connector)
        .rng(host.rng())
        .config(config)
        .executor(host_executor(host.clone()))
        .inbound(handler)
        .build()?;
    let mut peer = transport.peer(server_address());
    let crash_points: BTreeSet<u64> = (0..scenario.crashes)
        .map(|_| rng.random_range(1..scenario.packets))
        .collect();

    let watcher = watch_failures(peer.clone());
    let started = Instant::now();
    let calm = async {
        match scenario.chaos_for {
            Some(chaos_for) => {
                tokio::time::sleep(chaos_for).await;
                sim.mark_stable(SERVER_IP)?;
                sim.mark_stable(CLIENT_IP)?;
                sim.heal()?;
                std::future::pending::<Result<(), BoxError>>().await
            }
            None => std::future::pending().await,
        }
    };
    let body = async {
        for n in 0..scenario.packets {
            let packet = |kind| Packet::new(Uid::new(kind, n), vec![n as u8; 16]);
            let receipt = send_observed(
                &mut peer,
                Outgoing::reliable(packet(RELIABLE)),
                scenario.queue_capacity,
            )
            .await?;
            if let Some(handle) = receipt.into_reliable_handle() {
                held.lock().unwrap().insert(n, handle);
            }
            send_observed(
                &mut peer,
                Outgoing::unreliable(packet(UNRELIABLE)),
                scenario.queue_capacity,
            )
            .await?;
            if rng.random_bool(0.8) {
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..40))).await;
            }
            if crash_points.contains(&n) {
                sim.crash(SERVER_IP)?;
                sometimes!(true, "fault injected: server crash");
                tokio::time::sleep(Duration::from_millis(rng.random_range(100..3000))).await;
                sim.restart(SERVER_IP)?;
            }
        }
        publish(CLIENT_IP, "reliable_sent", scenario.packets);
        let calm_at = started + scenario.chaos_for.unwrap_or_default();
        let deadline = Instant::now().max(calm_at) + scenario.settle;
        while peer.metrics().reliable_outstanding > 0 {
            if Instant::now() > deadline {
                return Err(format!("still outstanding: {:?}", peer.metrics()).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok::<(), BoxError>(())
    };
    let result = tokio::select! {
        biased;
        result = body => result,
        () = watcher => Err("the client's peer closed".into()),
        error = calm => error,
    };
    drop(peer);
    transport.shutdown().await;
    result
}

/// The scenario as a runner simulation: a restartable server host, the
/// client workload, the delivery invariant, and full `sometimes!` coverage
/// of [`PEER_PATHS`] required. Add faults, seeds and iterations.
pub(crate) fn simulation(scenario: Scenario) -> SimulationBuilder {
    let slot = IterationSlot::default();
    let server_slot = slot.clone();
    SimulationBuilder::new()
        .host("server", SERVER_IP, move || {
            let log = server_slot.current();
            async move { server(log?).await }
        })
        .workload("client", CLIENT_IP, move || {
            slot.start();
            client(scenario)
        })
        .invariant(every_reliable_packet_delivered())
        .expect_sometimes(PEER_PATHS)
        .require_full_coverage(true)
        .budget(Duration::from_secs(90))
}
