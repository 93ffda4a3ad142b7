//! Reconnection delays, observed on paused time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::time::Duration;

use moonpool_tower::peer::{Outgoing, PeerState};
use moonpool_tower::transport::TransportConfig;
use peer_support::{MemoryNet, addr, eventually, packet};

const WITHIN: Duration = Duration::from_secs(30);

/// Whether `gap` is attempt `k`'s delay: `min(500 ms, 50 ms * 1.2^k)` times
/// a factor in `[0.9, 1.1]` (plus tokio's 1 ms timer granularity).
fn is_delay_of_attempt(gap: Duration, k: i32) -> bool {
    let ceiling = (0.05 * 1.2f64.powi(k)).min(0.5);
    let gap = gap.as_secs_f64();
    gap >= ceiling * 0.9 - 1e-6 && gap <= ceiling * 1.1 + 0.0011
}

#[tokio::test(start_paused = true)]
async fn reconnect_delays_follow_foundationdb_schedule() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let client = net.client(7, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();

    tokio::time::sleep(Duration::from_secs(10)).await;

    let attempts = net.attempts(address);
    assert!(attempts.len() > 20, "{} attempts", attempts.len());
    for (k, pair) in attempts.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(is_delay_of_attempt(gap, k as i32), "gap {k} is {gap:?}");
    }
    let gaps: Vec<Duration> = attempts.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(
        gaps.iter().any(|g| *g > Duration::from_millis(500)),
        "jitter above the cap"
    );
    assert!(
        gaps[15..].iter().any(|g| *g < Duration::from_millis(500)),
        "jitter below it"
    );
    assert_eq!(peer.metrics().state, PeerState::Backoff);
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_stayed_up_restarts_the_schedule() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let client = net.client(7, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    // Fail long enough to reach the cap.
    tokio::time::sleep(Duration::from_secs(8)).await;

    let mut server = net.server(address, 1, TransportConfig::default());
    server.recv(WITHIN).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    server.transport.shutdown().await;
    net.unlisten(address);
    drop(server);
    let failed_at = tokio::time::Instant::now();
    eventually(WITHIN, "two attempts after the crash", || {
        net.attempts(address)
            .iter()
            .filter(|at| **at >= failed_at)
            .count()
            >= 2
    })
    .await;

    let after: Vec<_> = net
        .attempts(address)
        .into_iter()
        .filter(|at| *at >= failed_at)
        .collect();
    // Not at once: the first attempt waits the initial delay, the next
    // the one after it.
    let first = after[0] - failed_at;
    assert!(
        is_delay_of_attempt(first, 0),
        "the initial delay: {first:?}"
    );
    let gap = after[1] - after[0];
    assert!(is_delay_of_attempt(gap, 1), "back near the start: {gap:?}");
}
