//! Packets sent without a reserved queue slot (how replies are sent): they
//! never wait, so their own bounds keep a remote that stops reading from
//! growing our memory. Paused time, in-memory connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use moonpool_codec::{NetworkAddress, Packet, PacketCodec, Uid};
use moonpool_tower::peer::{
    HANDSHAKE_TOKEN, Outgoing, PROTOCOL_VERSION, Peer, PeerConfig, PeerError,
};
use moonpool_tower::transport::Transport;
use peer_support::{MemoryNet, addr, eventually, packet, with_peer};
use tokio_util::codec::Framed;
use tower::Service;

const WITHIN: Duration = Duration::from_secs(10);

/// `call` without `poll_ready`: what a reply does.
fn call_unreserved(peer: &mut Peer, packet: Packet) -> Result<(), PeerError> {
    futures_util::FutureExt::now_or_never(peer.call(Outgoing::unreliable(packet)))
        .expect("call never waits")
        .map(|_| ())
}

#[tokio::test(start_paused = true)]
async fn packets_without_a_slot_are_refused_beyond_their_capacity_and_counted() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let config = PeerConfig {
        queue_capacity: 2,
        unreserved_capacity: 3,
        ..PeerConfig::default()
    };
    let client = net.client(2, with_peer(config));
    let mut peer = client.peer(address);
    // Nobody listens yet: nothing drains.
    for n in 0..3 {
        call_unreserved(&mut peer, packet(n)).unwrap();
    }
    assert_eq!(
        call_unreserved(&mut peer, packet(3)).unwrap_err(),
        PeerError::Overloaded {
            address: Some(NetworkAddress::from(address)),
            waiting: 3,
        }
    );
    assert_eq!(peer.metrics().unreserved_refused, 1);
    // The reserved queue is a separate bound.
    peer.send(Outgoing::reliable(packet(10))).await.unwrap();
    peer.send(Outgoing::reliable(packet(11))).await.unwrap();
    assert_eq!(peer.metrics().queue_depth, 5);

    // Once the queue drains, there is room again.
    let mut server = net.server(address, 1, with_peer(PeerConfig::default()));
    assert_eq!(server.recv_numbers(5, WITHIN).await.len(), 5);
    eventually(WITHIN, "the queue drained", || {
        peer.metrics().queue_depth == 0
    })
    .await;
    call_unreserved(&mut peer, packet(4)).unwrap();
    assert_eq!(server.recv_numbers(1, WITHIN).await, vec![4]);
}

#[tokio::test(start_paused = true)]
async fn packets_without_a_slot_share_a_byte_budget_that_one_large_packet_may_take_whole() {
    let net = MemoryNet::default();
    // Test packets are 32-byte frames.
    let config = PeerConfig {
        unreserved_bytes: 100,
        ..PeerConfig::default()
    };
    let client = net.client(2, with_peer(config));
    let mut peer = client.peer(addr("10.0.0.1:1"));
    for n in 0..3 {
        call_unreserved(&mut peer, packet(n)).unwrap();
    }
    assert!(matches!(
        call_unreserved(&mut peer, packet(3)),
        Err(PeerError::Overloaded { waiting: 3, .. })
    ));

    let other = net.client(
        3,
        with_peer(PeerConfig {
            unreserved_bytes: 100,
            ..PeerConfig::default()
        }),
    );
    let mut peer = other.peer(addr("10.0.0.2:1"));
    let large = Packet::new(Uid::new(1, 1), vec![0u8; 500]);
    call_unreserved(&mut peer, large).unwrap();
    assert!(call_unreserved(&mut peer, packet(1)).is_err());
    assert_eq!(peer.metrics().unreserved_refused, 1);
}

/// The frame of a handshake announcing `listen`.
fn handshake_from(listen: std::net::SocketAddr) -> Packet {
    let std::net::IpAddr::V4(ip) = listen.ip() else {
        unreachable!("IPv4 test addresses")
    };
    let mut payload = PROTOCOL_VERSION.to_le_bytes().to_vec();
    payload.extend_from_slice(&9u64.to_le_bytes());
    payload.extend_from_slice(&[4, 0]);
    payload.extend_from_slice(&listen.port().to_le_bytes());
    payload.extend_from_slice(&[0u8; 4]);
    payload.extend_from_slice(&ip.octets());
    payload.extend_from_slice(&[0u8; 12]);
    Packet::new(HANDSHAKE_TOKEN, payload)
}

#[tokio::test(start_paused = true)]
async fn answers_to_a_client_that_never_reads_are_bounded() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let config = PeerConfig {
        unreserved_capacity: 100,
        ..PeerConfig::default()
    };
    // No inbound handler: the router answers unknown tokens EndpointNotFound.
    let server = Transport::builder(net.connector())
        .seed(1)
        .listen(NetworkAddress::from(address), net.listen(address))
        .config(with_peer(config))
        .build()
        .unwrap();
    let client_address = addr("10.0.0.9:1");
    let mut raw = Framed::new(net.connect(address).await.unwrap(), PacketCodec::new());
    raw.send(handshake_from(client_address)).await.unwrap();
    assert_eq!(raw.next().await.unwrap().unwrap().token, HANDSHAKE_TOKEN);

    // Requests to tokens nobody serves, each answered; never read.
    for n in 0..5000 {
        raw.feed(Packet::new(Uid::new(0xBAD, n), vec![0u8; 8]))
            .await
            .unwrap();
    }
    raw.flush().await.unwrap();
    let peer = server.peer(NetworkAddress::from(client_address));
    eventually(WITHIN, "answers are refused", || {
        peer.metrics().unreserved_refused > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = peer.metrics();
    assert!(metrics.queue_depth <= 100, "{metrics:?}");
    assert!(metrics.packets_received == 5000, "{metrics:?}");
    assert!(
        metrics.unreserved_refused >= 5000 - 100 - 64 * 1024 / 40,
        "{metrics:?}"
    );
    drop(raw);
}
