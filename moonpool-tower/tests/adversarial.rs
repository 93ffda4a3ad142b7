//! A real node on loopback (127.0.0.1 only) under attack, while a
//! well-behaved client measures what the attack costs it: garbage,
//! oversized length claims, bad checksums, stalled handshakes (a burst,
//! and a sustained attack that reopens every connection the node closes),
//! unknown tokens whose replies are never read, and a flood of 100,000
//! requests from a client that never reads.
//!
//! Each attack is bounded in connections (capped to fit the open-file
//! limit, `ulimit -n`: both ends live in this process) and in time, and
//! stops by itself. The tests run one at a time (they measure latency and
//! share the open-file budget). Each prints its figures: the client's
//! latencies, the node's accept metrics, the peak resident set.
//!
//! `cargo test -p moonpool-tower --test adversarial -- --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attack_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use attack_support::{
    ECHO, ECHO_DELAY, FIRST_CALL_BOUND, LIMIT, Num, SlowReadingFlood, SustainedStall,
    attack_budget, closed_by_node, first_call, frame, handshake, open_file_limit, peak_rss_kib,
    request, send_and_hold, target,
};
use bytes::BufMut;
use moonpool_codec::{Endpoint, Packet, Uid};
use moonpool_tower::net::TcpConnector;
use moonpool_tower::rpc::{RpcClient, RpcError};
use moonpool_tower::transport::{AcceptConfig, Transport, TransportConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// One attack at a time: they measure latency and share the file budget.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The peak resident set this suite must stay under (the whole process,
/// every attack so far): generous, but far below what an allocation per
/// claimed frame length or an unbounded queue would take.
const MEMORY_BOUND_KIB: u64 = 512 * 1024;

/// Trials of a new client's first call per attack...
const TRIALS: u64 = 5;
/// ...and under the sustained stall, spread over a few seconds of it.
const SUSTAINED_TRIALS: u64 = 10;
const SUSTAINED_TRIAL_PAUSE: Duration = Duration::from_millis(200);

/// Connections of the stall attacks: beyond the 1,024 handshake places.
const SUSTAINED_STALL: usize = 1100;
const BURST_STALL: usize = 2000;

/// Accept limits that the `attackers` connections fill even when the
/// open-file limit caps them below the defaults: the defaults if they fit,
/// else scaled down in proportion.
fn accept_limits(attackers: usize) -> TransportConfig {
    let defaults = AcceptConfig::default();
    let max_handshaking = defaults.max_handshaking.min(attackers * 9 / 10).max(2);
    let scale = |n: usize| (n * max_handshaking / defaults.max_handshaking).max(1);
    TransportConfig {
        accept: AcceptConfig {
            max_handshaking,
            max_handshaking_per_source: scale(defaults.max_handshaking_per_source),
            ..defaults
        },
        ..TransportConfig::default()
    }
}

/// Asserts the memory bound, and prints the peak.
fn check_memory(attack: &str) {
    match peak_rss_kib() {
        Some(peak) => {
            println!("{attack}: peak RSS {} MiB", peak / 1024);
            assert!(peak < MEMORY_BOUND_KIB, "{attack}: peak RSS {peak} KiB");
        }
        None => println!("{attack}: peak RSS unknown on this platform"),
    }
}

/// Runs `trials` first calls of new clients, `pause` apart; each must
/// succeed within [`FIRST_CALL_BOUND`]. Returns the latencies.
async fn new_clients_are_served(
    address: std::net::SocketAddr,
    attack: &str,
    trials: u64,
    pause: Duration,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for trial in 0..trials {
        tokio::time::sleep(pause).await;
        let (took, result) = first_call(address, 100 + trial).await;
        assert!(result.is_ok(), "{attack}, trial {trial}: {result:?}");
        assert!(
            took < FIRST_CALL_BOUND,
            "{attack}, trial {trial}: first call took {took:?}"
        );
        latencies.push(took);
    }
    println!("{attack}: first calls took {latencies:?}");
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_is_served_within_a_second_under_a_sustained_stall_attack() {
    let _serial = SERIAL.lock().await;
    let attackers = attack_budget(SUSTAINED_STALL);
    println!(
        "open-file limit {:?}: {attackers} attackers",
        open_file_limit()
    );
    let (node, address) = target(accept_limits(attackers), ECHO_DELAY).await;
    let attack = SustainedStall::start(address, attackers);
    // The attack is at full strength once every attacker has opened a
    // connection and the node evicts stalled handshakes for newer ones.
    tokio::time::timeout(LIMIT, async {
        loop {
            let metrics = node.accept_metrics();
            let opened = attack.opened.load(Ordering::Relaxed);
            if opened >= attackers as u64
                && metrics.evicted_handshaking + metrics.evicted_same_source > 0
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the attack never filled the handshake table");
    new_clients_are_served(
        address,
        "sustained stall",
        SUSTAINED_TRIALS,
        SUSTAINED_TRIAL_PAUSE,
    )
    .await;
    let opened = attack.opened.load(Ordering::Relaxed);
    drop(attack);
    println!(
        "sustained stall: {opened} attack connections opened; {:?}",
        node.accept_metrics()
    );
    node.shutdown().await;
    check_memory("sustained stall");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_is_served_within_a_second_after_a_burst_of_stalled_connections() {
    let _serial = SERIAL.lock().await;
    let attackers = attack_budget(BURST_STALL);
    let (node, address) = target(accept_limits(attackers.min(1100)), ECHO_DELAY).await;
    let mut stalled = Vec::new();
    for _ in 0..attackers {
        if let Some(stream) = send_and_hold(address, &handshake()[..10]).await {
            stalled.push(stream);
        }
    }
    println!("burst: {} stalled connections", stalled.len());
    new_clients_are_served(address, "burst of stalls", TRIALS, Duration::ZERO).await;
    println!("burst: {:?}", node.accept_metrics());
    drop(stalled);
    node.shutdown().await;
    check_memory("burst of stalls");
}

/// What a malformed connection sends.
fn malformed(kind: usize, rng: &mut StdRng) -> Vec<u8> {
    let valid = handshake();
    match kind {
        // Random bytes.
        0 => (0..rng.random_range(1..512))
            .map(|_| rng.random())
            .collect(),
        // A length claim of 4 GiB.
        1 => {
            let mut bytes = valid.to_vec();
            bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
            bytes
        }
        // A length shorter than the header.
        2 => {
            let mut bytes = valid.to_vec();
            bytes[..4].copy_from_slice(&5u32.to_le_bytes());
            bytes
        }
        // A legal but large length claim whose bytes never come.
        3 => {
            let mut bytes = valid[..24].to_vec();
            bytes[..4].copy_from_slice(&(8u32 * 1024 * 1024).to_le_bytes());
            bytes
        }
        // A handshake with a bad checksum.
        4 => {
            let mut bytes = valid.to_vec();
            bytes[4] ^= 0x55;
            bytes
        }
        // A valid handshake, then a frame with a bad checksum.
        _ => {
            let mut bytes = valid.to_vec();
            let mut bad = request(ECHO, 1);
            bad[6] ^= 0x01;
            bytes.extend_from_slice(&bad);
            bytes
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_oversized_claims_and_bad_checksums_are_closed_while_a_new_client_is_served() {
    const KINDS: usize = 6;
    let _serial = SERIAL.lock().await;
    let per_kind = attack_budget(KINDS * 100) / KINDS;
    let (node, address) = target(TransportConfig::default(), ECHO_DELAY).await;
    let mut rng = StdRng::seed_from_u64(15);
    let mut attacks = tokio::task::JoinSet::new();
    for kind in 0..KINDS {
        for _ in 0..per_kind {
            let bytes = malformed(kind, &mut rng);
            attacks.spawn(async move {
                match send_and_hold(address, &bytes).await {
                    Some(stream) => (kind, closed_by_node(stream).await),
                    // Closed before all was written: closed it is.
                    None => (kind, true),
                }
            });
        }
    }
    new_clients_are_served(address, "malformed input", TRIALS, Duration::ZERO).await;
    while let Some(outcome) = attacks.join_next().await {
        let (kind, closed) = outcome.unwrap();
        assert!(closed, "a connection of malformed kind {kind} stayed open");
    }
    println!("malformed input: {:?}", node.accept_metrics());
    node.shutdown().await;
    check_memory("malformed input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tokens_with_unread_replies_do_not_keep_a_new_client_waiting() {
    const ATTACKERS: usize = 20;
    const PACKETS: u64 = 5000;
    let _serial = SERIAL.lock().await;
    let (node, address) = target(TransportConfig::default(), ECHO_DELAY).await;
    let mut attackers = Vec::new();
    for a in 0..ATTACKERS as u64 {
        let mut bytes = handshake().to_vec();
        for n in 0..PACKETS {
            let mut payload = bytes::BytesMut::new();
            payload.put_u64_le(n);
            bytes.extend_from_slice(&frame(Packet::new(
                Uid::new(0xDEAD + a, n),
                payload.freeze(),
            )));
        }
        if let Some(stream) = send_and_hold(address, &bytes).await {
            attackers.push(stream);
        }
    }
    new_clients_are_served(address, "unknown tokens", TRIALS, Duration::ZERO).await;
    drop(attackers);
    node.shutdown().await;
    check_memory("unknown tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sees_no_broken_promise_during_a_slow_reading_flood_of_100k_requests() {
    const FLOOD: u64 = 100_000;
    // Rounds of four concurrent calls, at least (more while the node takes
    // the flood in).
    const FLOOD_ROUNDS: u64 = 10;
    let _serial = SERIAL.lock().await;
    // The flood's requests each hold a handler task: without a per-peer
    // share they would take every one, and the client's would be refused.
    let (node, address) = target(TransportConfig::default(), ECHO_DELAY).await;
    let flood = SlowReadingFlood::start(address, FLOOD);
    let client = Transport::builder(TcpConnector::new())
        .seed(9)
        .build()
        .unwrap();
    let rpc = RpcClient::<Num, Num>::new(&client, Endpoint::new(address.into(), ECHO));
    let (mut answered, mut broken, mut slowest) = (0u64, 0u64, Duration::ZERO);
    // Until the node has taken in the whole flood: every request of it but
    // those holding a handler task was refused.
    let taken_in =
        || node.router().rejected_requests() + node.router().handler_tasks() as u64 >= FLOOD;
    let deadline = Instant::now() + LIMIT;
    let mut rounds = 0;
    while rounds < FLOOD_ROUNDS || !taken_in() {
        assert!(
            Instant::now() < deadline,
            "the node never took in the flood"
        );
        rounds += 1;
        let started = Instant::now();
        let calls: Vec<_> = (0..4)
            .map(|value| tokio::spawn(rpc.get_reply(Num { value })))
            .collect();
        for call in calls {
            match tokio::time::timeout(LIMIT, call).await.unwrap().unwrap() {
                Ok(_) => answered += 1,
                Err(RpcError::BrokenPromise { .. }) => broken += 1,
                Err(other) => panic!("unexpected outcome {other}"),
            }
        }
        slowest = slowest.max(started.elapsed());
    }
    let sent = flood.finish();
    let rejected = node.router().rejected_requests();
    println!(
        "flood: {sent} requests sent; the flooder's refused {rejected}; the client: \
         {answered} answered, {broken} broken promises, slowest round {slowest:?}"
    );
    assert_eq!(sent, FLOOD);
    assert_eq!(broken, 0, "the well-behaved client met BrokenPromise");
    assert!(rejected > 0, "the flood never reached the flooder's share");
    client.shutdown().await;
    node.shutdown().await;
    check_memory("slow-reading flood");
}
