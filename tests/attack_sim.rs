//! The adversarial suite of `moonpool-tower/tests/adversarial.rs` under
//! simulation, many seeds per attack: a node is attacked from two
//! simulated hosts (two sources) by stalled handshakes reopened as soon as
//! they are closed, malformed input (garbage, oversized and undersized
//! length claims, a large claim whose bytes never come, bad checksums),
//! unknown tokens whose replies are never read, or a flood of requests
//! that each hold a handler task from a client that never reads; the seed
//! draws the attack's timing and content. Meanwhile new well-behaved
//! clients make their first call, which must be answered within 1 s of
//! simulated time; under the flood, a client's calls must never meet
//! `BrokenPromise`. Limits are scaled down (32 handshake places, 8 per
//! source, 256 handler tasks, 64 per peer) so the attacks fill them at
//! simulation cost.
//!
//! Replay a failing seed with the command the runner prints;
//! `MOONPOOL_ITERATIONS` scales a run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use moonpool_codec::{Endpoint, NetworkAddress, Packet, PacketCodec, ProstCodec, Uid};
use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
use moonpool_sim_net::{HostHandle, SimConnector, SimTcpListener, SimTcpStream, sometimes};
use moonpool_tests::rpc::host_executor;
use moonpool_tower::peer::{HANDSHAKE_TOKEN, PROTOCOL_VERSION};
use moonpool_tower::rpc::envelope::encode_request;
use moonpool_tower::rpc::{RpcClient, RpcError};
use moonpool_tower::transport::{AcceptConfig, EndpointConfig, Transport, TransportConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tower::BoxError;

const SEEDS: u64 = 6;
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 11);
const ATTACKERS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 6, 1), Ipv4Addr::new(10, 0, 6, 2)];
const PORT: u16 = 4500;
const ECHO: Uid = Uid::new(0xA77A, 1);
/// A request carrying this value holds its handler task for a minute.
const HOLD: i64 = -1;
/// How long each attack lasts (simulated).
const ATTACK: Duration = Duration::from_secs(3);
/// The bound on a new client's first call.
const FIRST_CALL_BOUND: Duration = Duration::from_secs(1);
const TRIALS: u32 = 5;

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    Stall,
    Malformed,
    UnknownTokens,
    Flood,
}

fn server_address() -> NetworkAddress {
    NetworkAddress::new(SERVER.into(), PORT)
}

fn config() -> TransportConfig {
    TransportConfig {
        accept: AcceptConfig {
            max_handshaking: 32,
            max_handshaking_per_source: 8,
            ..AcceptConfig::default()
        },
        endpoint: EndpointConfig {
            max_handler_tasks: 256,
            max_handler_tasks_per_peer: 64,
            ..EndpointConfig::default()
        },
        ..TransportConfig::default()
    }
}

/// The attacked node: serves `echo` (2 ms, or a minute for [`HOLD`]);
/// records whether `attack` reached the limit it aims at.
async fn server(attack: Attack) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    let transport = Transport::builder(SimConnector::new())
        .rng(host.rng())
        .config(config())
        .listen(server_address(), listener.into_stream())
        .executor(host_executor(host.clone()))
        .build()?;
    let echo = tower::service_fn(|n: Num| async move {
        let hold = if n.value == HOLD { 60_000 } else { 2 };
        tokio::time::sleep(Duration::from_millis(hold)).await;
        Ok::<_, Infallible>(n)
    });
    transport.router().serve(ECHO, echo)?;
    shutdown_signal().cancelled().await;
    match attack {
        Attack::Stall => sometimes!(
            transport.accept_metrics().evicted_same_source > 0,
            "a source over its share evicted its own handshake"
        ),
        Attack::Flood => sometimes!(
            transport.router().rejected_requests() > 0,
            "a flooding peer was refused beyond its share"
        ),
        Attack::Malformed | Attack::UnknownTokens => {}
    }
    drop(transport);
    Ok(())
}

fn frame(packet: Packet) -> BytesMut {
    let mut bytes = BytesMut::new();
    PacketCodec::new()
        .encode_packet(&packet, &mut bytes)
        .unwrap();
    bytes
}

fn handshake() -> BytesMut {
    let mut payload = BytesMut::with_capacity(40);
    payload.put_u64_le(PROTOCOL_VERSION);
    payload.put_u64_le(0xBAD);
    payload.put_bytes(0, 24);
    frame(Packet::new(HANDSHAKE_TOKEN, payload.freeze()))
}

fn hold_request(n: u64) -> BytesMut {
    let payload = encode_request(
        Uid::new(0xF100D, n),
        &ProstCodec::new(),
        &Num { value: HOLD },
    );
    frame(Packet::new(ECHO, payload.unwrap()))
}

/// Malformed bytes of one of six kinds (see `adversarial.rs`).
fn malformed(rng: &mut StdRng) -> Vec<u8> {
    let valid = handshake().to_vec();
    let mut bytes = valid.clone();
    match rng.random_range(0..6) {
        0 => {
            return (0..rng.random_range(1..256))
                .map(|_| rng.random())
                .collect();
        }
        1 => bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes()),
        2 => bytes[..4].copy_from_slice(&5u32.to_le_bytes()),
        3 => {
            bytes.truncate(24);
            bytes[..4].copy_from_slice(&(8u32 << 20).to_le_bytes());
        }
        4 => bytes[4] ^= 0x55,
        _ => {
            let mut bad = hold_request(1);
            bad[6] ^= 1;
            bytes.extend_from_slice(&bad);
        }
    }
    bytes
}

/// Reads until the node closes the connection.
async fn until_closed(stream: &mut SimTcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await
        && n > 0
    {}
}

/// One attacking connection's life, repeated until `deadline`.
async fn attacker(attack: Attack, mut rng: StdRng, deadline: Instant) {
    let server = (SERVER, PORT);
    let life = async {
        loop {
            let Ok(mut stream) = SimTcpStream::connect(server).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            match attack {
                Attack::Stall => {
                    if stream.write_all(&handshake()[..10]).await.is_ok() {
                        until_closed(&mut stream).await;
                    }
                }
                Attack::Malformed => {
                    if stream.write_all(&malformed(&mut rng)).await.is_ok() {
                        until_closed(&mut stream).await;
                    }
                    sometimes!(true, "the node closed a malformed connection");
                }
                Attack::UnknownTokens => {
                    let mut bytes = handshake();
                    for n in 0..2000u64 {
                        let token = Uid::new(0xDEAD, rng.random_range(0..u64::MAX));
                        bytes.extend_from_slice(&frame(Packet::new(
                            token,
                            n.to_le_bytes().to_vec(),
                        )));
                    }
                    // Taken in full only if the node reads on while its
                    // answers pile up unread.
                    let written = stream.write_all(&bytes).await.is_ok();
                    sometimes!(written, "the node read a flood to unknown tokens in full");
                    std::future::pending::<()>().await;
                }
                Attack::Flood => {
                    let _ = stream.write_all(&handshake()).await;
                    for batch in 0..40u64 {
                        let mut bytes = BytesMut::new();
                        for n in 0..250 {
                            bytes.extend_from_slice(&hold_request(batch * 250 + n));
                        }
                        if stream.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(5..50))).await;
        }
    };
    let _ = tokio::time::timeout_at(deadline, life).await;
}

/// An attacking host: `attack` from many connections until [`ATTACK`] ends.
async fn attack_from(attack: Attack) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let mut rng = host.rng();
    let connections = match attack {
        Attack::Stall => 30,
        Attack::Malformed => 20,
        Attack::UnknownTokens => 4,
        Attack::Flood => 1,
    };
    let deadline = Instant::now() + ATTACK;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let seeded = StdRng::seed_from_u64(rng.random());
        tasks.push(host.spawn(attacker(attack, seeded, deadline)));
    }
    for task in tasks {
        task.await?;
    }
    Ok(())
}

/// New clients' first calls, each within [`FIRST_CALL_BOUND`]; under a
/// flood, one more client's calls throughout, none `BrokenPromise`.
async fn clients(attack: Attack) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let mut rng = host.rng();
    let endpoint = Endpoint::new(server_address(), ECHO);
    tokio::time::sleep(Duration::from_millis(rng.random_range(200..600))).await;
    for trial in 0..TRIALS {
        let client = Transport::builder(SimConnector::new())
            .rng(host.rng())
            .executor(host_executor(host.clone()))
            .build()?;
        let rpc = RpcClient::<Num, Num>::new(&client, endpoint);
        let started = Instant::now();
        let first = tokio::time::timeout(FIRST_CALL_BOUND, rpc.get_reply(Num { value: 1 })).await;
        match first {
            Ok(Ok(_)) => {}
            other => {
                return Err(format!(
                    "{attack:?}, trial {trial}: first call {other:?} after {:?}",
                    started.elapsed()
                )
                .into());
            }
        }
        if attack == Attack::Flood {
            for round in 0..10 {
                let calls: Vec<_> = (0..4)
                    .map(|v| host.spawn(rpc.get_reply(Num { value: v })))
                    .collect();
                for call in calls {
                    if let Err(RpcError::BrokenPromise { .. }) = call.await? {
                        return Err(format!("trial {trial}, round {round}: BrokenPromise").into());
                    }
                }
            }
        }
        client.shutdown().await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
    }
    Ok(())
}

fn run(attack: Attack, expect: &'static [&'static str]) {
    let mut builder = SimulationBuilder::new()
        .host("server", SERVER, move || server(attack))
        .workload("clients", CLIENT, move || clients(attack))
        .iterations(Iterations::Fixed(SEEDS))
        .budget(Duration::from_secs(60))
        .check_determinism(true)
        .expect_sometimes(expect.iter().copied())
        .require_full_coverage(true)
        .progress(false);
    for (i, ip) in ATTACKERS.into_iter().enumerate() {
        builder = builder.workload(&format!("attacker-{i}"), ip, move || attack_from(attack));
    }
    let report = builder.run().unwrap();
    println!("{attack:?}:\n{report}");
    report.assert_passed();
}

#[test]
fn a_new_client_is_served_within_a_second_under_a_sustained_stall() {
    run(
        Attack::Stall,
        &["a source over its share evicted its own handshake"],
    );
}

#[test]
fn malformed_input_does_not_keep_a_new_client_waiting() {
    run(
        Attack::Malformed,
        &["the node closed a malformed connection"],
    );
}

#[test]
fn unknown_tokens_with_unread_replies_do_not_keep_a_new_client_waiting() {
    run(
        Attack::UnknownTokens,
        &["the node read a flood to unknown tokens in full"],
    );
}

#[test]
fn a_client_sees_no_broken_promise_during_a_flood_that_holds_handler_tasks() {
    run(
        Attack::Flood,
        &["a flooding peer was refused beyond its share"],
    );
}
