//! Randomized knobs find what the defaults hide.
//!
//! The workload below has a deliberately knob-sensitive bug: its client
//! sends a burst of [`BURST`] packets and assumes the peer takes them all
//! without applying backpressure. That holds with the default queue
//! capacity (1024 packets) and fails whenever the peer's `queue_capacity`
//! is smaller than the burst — which no test with the default
//! `TransportConfig` ever sees. With
//! [`SimulationBuilder::randomize_knobs`] the client's transport
//! configuration is drawn per seed ([`knobs::draw`] with
//! `TransportConfig::randomize`), the sweep finds seeds whose queue is too
//! small, each failure names its knobs, and replaying a failing seed draws
//! the same knobs and fails the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::poll_fn;
use std::net::Ipv4Addr;
use std::task::Poll;

use moonpool_codec::{NetworkAddress, Packet, Uid};
use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::invariants::{Invariant, publish};
use moonpool_sim_net::knobs;
use moonpool_sim_net::runner::{EnvOverrides, Iterations, SimulationBuilder, SimulationReport};
use moonpool_sim_net::{BoxError, HostHandle, SimConnector, SimTcpListener};
use moonpool_tests::rpc::host_executor;
use moonpool_tower::peer::Outgoing;
use moonpool_tower::transport::{Transport, TransportBuilder, TransportConfig};
use tower::Service;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 4600;

/// Packets the client sends at once, assuming the peer's queue holds them.
const BURST: u64 = 64;
/// Seeds per sweep: enough that a queue below the burst (drawn for about
/// one seed in seven) comes up.
const SEEDS: u64 = 40;

/// A transport for this host, with this iteration's transport knobs.
fn transport(host: &HostHandle) -> TransportBuilder {
    let config = knobs::draw(
        "transport",
        TransportConfig::default(),
        TransportConfig::randomize,
    );
    Transport::builder(SimConnector::new())
        .rng(host.rng())
        .config(config)
        .executor(host_executor(host.clone()))
}

/// Listens until the workload ends.
async fn server() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let listener = SimTcpListener::bind((SERVER, PORT)).await?;
    let transport = transport(&host)
        .listen(
            NetworkAddress::new(SERVER.into(), PORT),
            listener.into_stream(),
        )
        .build()?;
    shutdown_signal().cancelled().await;
    transport.shutdown().await;
    Ok(())
}

/// The bug: the burst is sent with a check that the peer is ready at once,
/// as if its queue could never be full.
async fn bursting_client() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let transport = transport(&host).build()?;
    publish(
        CLIENT,
        "queue_capacity",
        transport.config().peer.queue_capacity,
    );
    let mut peer = transport.peer(NetworkAddress::new(SERVER.into(), PORT));
    for n in 0..BURST {
        let ready = poll_fn(|cx| Poll::Ready(peer.poll_ready(cx))).await;
        if ready.is_pending() {
            return Err(format!("the peer held back packet {n} of a burst of {BURST}").into());
        }
        let packet = Packet::new(Uid::new(0x6b6e_6f62, n), vec![0u8; 32]);
        peer.call(Outgoing::unreliable(packet)).await?;
    }
    transport.shutdown().await;
    Ok(())
}

fn sweep(randomize_knobs: bool) -> SimulationBuilder {
    SimulationBuilder::new()
        .host("server", SERVER, server)
        .workload("client", CLIENT, bursting_client)
        .iterations(Iterations::Fixed(SEEDS))
        .randomize_knobs(randomize_knobs)
        .replay_failures_alone(0)
        .progress(false)
}

/// The drawn `peer.queue_capacity` a failure names.
fn drawn_queue_capacity(report: &SimulationReport, seed: u64) -> u64 {
    let failure = report.failure(seed).unwrap();
    assert_eq!(
        failure.knobs["transport"]["peer"]["queue_capacity"],
        failure.knob_changes["transport.peer.queue_capacity"],
    );
    failure.knob_changes["transport.peer.queue_capacity"]
        .as_u64()
        .unwrap_or_else(|| panic!("seed {seed} names no queue capacity: {failure:?}"))
}

#[test]
fn a_knob_sensitive_bug_is_found_by_randomized_knobs_and_replays_with_them() {
    let defaults = sweep(false)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    assert!(defaults.passed(), "the defaults hide the bug:\n{defaults}");
    assert!(defaults.knob_hashes.is_empty());

    let randomized = sweep(true)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    println!("{randomized}");
    assert!(!randomized.passed(), "randomized knobs find the bug");
    assert!(
        randomized.failures.len() < SEEDS as usize,
        "some seeds draw a queue that holds the burst"
    );
    assert_eq!(randomized.knob_hashes.len() as u64, SEEDS);
    for failure in &randomized.failures {
        assert!(failure.message.contains("held back packet"), "{failure:?}");
        assert!(drawn_queue_capacity(&randomized, failure.seed) < BURST);
        assert!(failure.knobs.contains_key("net"), "the network's knobs too");
    }
    assert!(
        randomized
            .to_string()
            .contains("transport.peer.queue_capacity=")
    );

    let failure = &randomized.failures[0];
    let trace = std::env::temp_dir().join(format!("moonpool-knobs-{}.json", failure.seed));
    let replay = sweep(true)
        .run_report_with(&EnvOverrides {
            seed: Some(failure.seed),
            trace: Some(trace.clone()),
            ..EnvOverrides::default()
        })
        .unwrap();
    let timeline = std::fs::read_to_string(&trace).unwrap();
    std::fs::remove_file(&trace).unwrap();
    let again = replay.failure(failure.seed).expect("the seed fails again");
    assert_eq!(again.message, failure.message);
    assert_eq!(again.knobs, failure.knobs);
    assert_eq!(again.knob_changes, failure.knob_changes);
    assert_eq!(
        replay.knob_hashes[&failure.seed],
        randomized.knob_hashes[&failure.seed]
    );
    assert_eq!(
        replay.trace_hashes[&failure.seed],
        randomized.trace_hashes[&failure.seed]
    );
    assert!(
        timeline.contains(&randomized.knob_hashes[&failure.seed]),
        "the timeline names the knobs"
    );
}

/// Publishes the queue capacity of this host's transport.
async fn observer(ip: Ipv4Addr) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let transport = transport(&host).build()?;
    publish(ip, "queue_capacity", transport.config().peer.queue_capacity);
    transport.shutdown().await;
    Ok(())
}

#[test]
fn every_host_of_an_iteration_draws_the_same_knobs() {
    const OTHER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
    let report = SimulationBuilder::new()
        .host("server", SERVER, server)
        .workload("observer-a", CLIENT, || observer(CLIENT))
        .workload("observer-b", OTHER, || observer(OTHER))
        .invariant(Invariant::new(
            "one queue capacity per iteration",
            |state| {
                let a = state.get::<usize>(CLIENT, "queue_capacity");
                let b = state.get::<usize>(OTHER, "queue_capacity");
                match (a, b) {
                    (Some(a), Some(b)) if a == b => Ok(()),
                    other => Err(format!("capacities {other:?}")),
                }
            },
        ))
        .iterations(Iterations::Fixed(SEEDS))
        .randomize_knobs(true)
        .progress(false)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    report.assert_passed();
    assert_eq!(report.knob_hashes.len() as u64, SEEDS);
    let distinct: std::collections::BTreeSet<_> = report.knob_hashes.values().collect();
    assert!(distinct.len() > 1, "seeds draw different knobs");
}
