//! Per-peer control over real TCP on 127.0.0.1: closing one peer's
//! connection and forcing a reconnect keep the reliable queue's resend
//! semantics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::net::SocketAddr;
use std::time::Duration;

use moonpool_codec::NetworkAddress;
use moonpool_tower::BackoffConfig;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::peer::{ConnectionError, Outgoing, PeerConfig, PeerState};
use moonpool_tower::transport::{InboundChannel, Transport, TransportConfig};
use peer_support::{Node, eventually, packet, with_peer};

const WITHIN: Duration = Duration::from_secs(10);
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

/// A node listening on an ephemeral loopback port.
async fn tcp_node(seed: u64) -> Node {
    tcp_node_at(
        "127.0.0.1:0".parse().unwrap(),
        seed,
        TransportConfig::default(),
    )
    .await
}

async fn tcp_node_at(address: SocketAddr, seed: u64, config: TransportConfig) -> Node {
    let incoming = TcpIncoming::bind(address).await.unwrap();
    let bound = incoming.local_addr().unwrap();
    let (handler, received) = InboundChannel::new(1024);
    let transport = Transport::builder(TcpConnector::new())
        .seed(seed)
        .config(config)
        .listen(NetworkAddress::from(bound), incoming)
        .inbound(handler)
        .build()
        .unwrap();
    Node {
        transport,
        received,
    }
}

fn address(node: &Node) -> NetworkAddress {
    node.transport.local_address().unwrap()
}

#[tokio::test]
async fn close_connection_resends_held_reliable_packets_on_the_next_connection_over_tcp() {
    let mut server = tcp_node(1).await;
    let client = tcp_node(2).await;
    let mut peer = client.transport.peer(address(&server));
    for n in 1..=3 {
        peer.send(Outgoing::reliable(packet(n))).await.unwrap();
    }
    assert_eq!(server.recv_numbers(3, WITHIN).await, vec![1, 2, 3]);

    peer.close_connection();

    // Not acknowledged, so held: all three again, in order, on a second
    // connection that was dialed without waiting for a backoff.
    assert_eq!(server.recv_numbers(3, WITHIN).await, vec![1, 2, 3]);
    let metrics = peer.metrics();
    assert_eq!(metrics.connections, 2);
    assert_eq!(metrics.failures.closed_locally, 1);
    assert_eq!(metrics.failures.total(), 1);
    assert!(matches!(
        peer.last_error().as_deref(),
        Some(ConnectionError::ClosedLocally)
    ));
    // The server saw an orderly close (FIN), not a reset.
    let seen_by_server = server.transport.peer(address(&client));
    eventually(WITHIN, "the server saw the close", || {
        seen_by_server.metrics().failures.total() >= 1
    })
    .await;
    assert!(matches!(
        seen_by_server.last_error().as_deref(),
        Some(ConnectionError::Closed)
    ));
}

#[tokio::test]
async fn close_connection_discards_unreliable_packets_not_yet_written_and_resends_reliable_ones() {
    let mut server = tcp_node(3).await;
    let client = tcp_node(4).await;
    let mut peer = client.transport.peer(address(&server));
    let first = peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    assert_eq!(server.recv_numbers(1, WITHIN).await, vec![1]);
    first.reliable_handle().unwrap().cancel();

    // Queued and closed before the keeper (on this same thread) runs: the
    // connection closes before it writes either packet.
    let unreliable = peer.send(Outgoing::unreliable(packet(2))).await.unwrap();
    peer.send(Outgoing::reliable(packet(3))).await.unwrap();
    peer.close_connection();

    assert_eq!(server.recv_numbers(1, WITHIN).await, vec![3]);
    assert!(server.nothing_within(QUIET).await, "packet 2 was discarded");
    assert!(unreliable.connection_failed());
    assert_eq!(peer.metrics().unreliable_discarded, 1);
    assert_eq!(peer.metrics().connections, 2);
}

#[tokio::test]
async fn reconnect_dials_a_new_connection_at_once_with_nothing_queued_over_tcp() {
    let mut server = tcp_node(5).await;
    let client = tcp_node(6).await;
    let mut peer = client.transport.peer(address(&server));
    let receipt = peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    assert_eq!(server.recv_numbers(1, WITHIN).await, vec![1]);
    receipt.reliable_handle().unwrap().cancel();
    let mut events = peer.connection_events();
    assert_eq!(events.current().connections, 1);

    peer.reconnect();

    let epoch = tokio::time::timeout(
        WITHIN,
        events.wait_for(|epoch| epoch.connections == 2 && epoch.state == PeerState::Connected),
    )
    .await
    .expect("reconnected in time")
    .unwrap();
    assert_eq!(epoch.failures, 1);
    assert_eq!(peer.metrics().failures.closed_locally, 1);
    // Nothing held, so nothing resent.
    assert!(server.nothing_within(QUIET).await);
}

#[tokio::test]
async fn close_connection_without_an_open_connection_does_nothing_to_the_next_one() {
    let mut server = tcp_node(7).await;
    let client = tcp_node(8).await;
    let mut peer = client.transport.peer(address(&server));
    peer.close_connection();

    peer.send(Outgoing::reliable(packet(1))).await.unwrap();

    assert_eq!(server.recv_numbers(1, WITHIN).await, vec![1]);
    assert!(server.nothing_within(QUIET).await);
    assert_eq!(peer.metrics().connections, 1);
    assert_eq!(peer.metrics().failures.total(), 0);
}

#[tokio::test]
async fn reconnect_skips_the_reconnection_delay_of_a_peer_in_backoff() {
    // A loopback port nobody listens on yet.
    let vacant = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    // Far longer than the test waits for anything.
    let delay = Duration::from_secs(600);
    let slow_backoff = with_peer(PeerConfig {
        reconnect: BackoffConfig {
            initial: delay,
            cap: delay,
            ..BackoffConfig::default()
        },
        ..PeerConfig::default()
    });
    let client = tcp_node_at("127.0.0.1:0".parse().unwrap(), 9, slow_backoff).await;
    let mut peer = client.transport.peer(NetworkAddress::from(vacant));
    let mut events = peer.connection_events();
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    tokio::time::timeout(WITHIN, events.wait_for(|e| e.state == PeerState::Backoff))
        .await
        .expect("the refused connect leads to a backoff")
        .unwrap();
    let mut server = tcp_node_at(vacant, 10, TransportConfig::default()).await;

    peer.reconnect();

    assert_eq!(server.recv_numbers(1, WITHIN).await, vec![1]);
    assert_eq!(peer.metrics().connections, 1);
}
