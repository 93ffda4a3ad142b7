//! The node side: incoming connections, anonymous clients, simultaneous
//! connects, idle close and shutdown. Paused time, in-memory connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::time::Duration;

use moonpool_codec::NetworkAddress;
use moonpool_tower::peer::{Outgoing, Peer, PeerConfig, PeerState};
use moonpool_tower::transport::TransportConfig;
use peer_support::{MemoryNet, addr, eventually, number, packet, with_peer};

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(start_paused = true)]
async fn a_client_without_a_listener_gets_replies_on_its_own_connection() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, TransportConfig::default());
    let mut client = net.client(2, TransportConfig::default());
    let mut to_server = client.peer(address);
    to_server.send(Outgoing::reliable(packet(1))).await.unwrap();

    let request = server.recv(WITHIN).await;
    assert_eq!(request.from.address(), None, "an anonymous peer");
    let mut reply_to = request.from;
    reply_to
        .send(Outgoing::unreliable(packet(100)))
        .await
        .unwrap();

    let reply = client.recv(WITHIN).await;
    assert_eq!(number(&reply.packet), 100);
    assert!(reply.from.same_peer(&to_server));
    assert_eq!(to_server.metrics().connections, 1);
}

#[tokio::test(start_paused = true)]
async fn an_incoming_connection_serves_as_the_peer_of_the_announced_address() {
    let net = MemoryNet::default();
    let (a_address, b_address) = (addr("10.0.0.1:1"), addr("10.0.0.2:1"));
    let a = net.server(a_address, 1, TransportConfig::default());
    let mut b = net.server(b_address, 2, TransportConfig::default());
    let mut a_to_b = a.peer(b_address);
    a_to_b.send(Outgoing::reliable(packet(1))).await.unwrap();

    let request = b.recv(WITHIN).await;
    assert_eq!(
        request.from.address(),
        Some(NetworkAddress::from(a_address))
    );
    let mut b_to_a = b.peer(a_address);
    assert!(request.from.same_peer(&b_to_a));
    b_to_a.send(Outgoing::reliable(packet(2))).await.unwrap();

    let mut a = a;
    assert_eq!(number(&a.recv(WITHIN).await.packet), 2);
    assert!(net.attempts(a_address).is_empty(), "b never dialed a");
    assert_eq!(b_to_a.metrics().connections, 1);
    assert_eq!(
        b.transport.peer_addresses(),
        vec![NetworkAddress::from(a_address)]
    );
}

fn live_connections(peer: &Peer) -> u64 {
    let metrics = peer.metrics();
    let ended = metrics.failures.total()
        - metrics.failures.connect
        - metrics.failures.connect_timeout
        - metrics.failures.handshake
        - metrics.failures.incompatible_version;
    metrics.connections - ended
}

#[tokio::test(start_paused = true)]
async fn simultaneous_connects_keep_the_connection_of_the_lower_address_and_lose_nothing() {
    let net = MemoryNet::default();
    let (low, high) = (addr("10.0.0.1:1"), addr("10.0.0.2:1"));
    let mut a = net.server(low, 1, TransportConfig::default());
    let mut b = net.server(high, 2, TransportConfig::default());
    let mut a_to_b = a.peer(high);
    let mut b_to_a = b.peer(low);
    for n in 1..=5 {
        a_to_b.send(Outgoing::reliable(packet(n))).await.unwrap();
        b_to_a
            .send(Outgoing::reliable(packet(100 + n)))
            .await
            .unwrap();
    }

    let mut at_b = b.recv_numbers(5, WITHIN).await;
    let mut at_a = a.recv_numbers(5, WITHIN).await;
    // Duplicates are allowed only across a reconnect; collect until all seen.
    while at_b.iter().collect::<std::collections::BTreeSet<_>>().len() < 5 {
        at_b.push(number(&b.recv(WITHIN).await.packet));
    }
    while at_a.iter().collect::<std::collections::BTreeSet<_>>().len() < 5 {
        at_a.push(number(&a.recv(WITHIN).await.packet));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    assert_eq!(live_connections(&a_to_b), 1);
    assert_eq!(live_connections(&b_to_a), 1);
    assert_eq!(a_to_b.metrics().state, PeerState::Connected);
    assert_eq!(b_to_a.metrics().state, PeerState::Connected);
    assert_eq!(
        a_to_b.metrics().failures.replaced,
        0,
        "the low side keeps its own"
    );
    assert!(b.nothing_within(Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn an_unused_idle_peer_is_closed_and_forgotten() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, TransportConfig::default());
    let idle_fast = PeerConfig {
        idle_timeout: Duration::from_secs(10),
        ..PeerConfig::default()
    };
    let client = net.client(2, with_peer(idle_fast));
    let mut peer = client.peer(address);
    let receipt = peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    server.recv(WITHIN).await;
    let events = peer.connection_events();

    // A user handle keeps it, so does an unacknowledged reliable packet.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(events.current().state, PeerState::Connected);
    drop(peer);
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(events.current().state, PeerState::Connected);

    receipt.reliable_handle().unwrap().cancel();
    let cancelled_at = tokio::time::Instant::now();
    eventually(Duration::from_secs(30), "the peer closes", || {
        events.current().state == PeerState::Closed
    })
    .await;
    assert!(cancelled_at.elapsed() >= Duration::from_secs(10));
    assert!(client.transport.peer_addresses().is_empty());
    // Asking again makes a fresh peer that connects again.
    let mut again = client.peer(address);
    assert!(!again.is_closed());
    again.send(Outgoing::reliable(packet(2))).await.unwrap();
    assert_eq!(number(&server.recv(WITHIN).await.packet), 2);
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_connections_and_waits_for_every_task() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, TransportConfig::default());
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    let from = server.recv(WITHIN).await.from;

    tokio::time::timeout(WITHIN, server.transport.shutdown())
        .await
        .expect("shutdown completes");
    assert!(from.is_closed());
    eventually(WITHIN, "the client saw the connection end", || {
        peer.metrics().failures.closed >= 1
    })
    .await;
    tokio::time::timeout(WITHIN, client.transport.shutdown())
        .await
        .expect("shutdown completes");
    assert_eq!(peer.metrics().state, PeerState::Closed);
}
