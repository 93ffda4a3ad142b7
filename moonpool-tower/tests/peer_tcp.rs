//! Peers over real TCP on 127.0.0.1: restarts, delivery guarantees,
//! corrupt frames, version mismatches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use moonpool_codec::{NetworkAddress, Packet, PacketCodec};
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::peer::{
    ConnectionError, HANDSHAKE_TOKEN, HandshakeError, Outgoing, PROTOCOL_VERSION, PeerConfig,
};
use moonpool_tower::transport::{InboundChannel, Transport, TransportConfig};
use peer_support::{Node, eventually, number, packet, with_peer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::codec::{Encoder, Framed};

const WITHIN: Duration = Duration::from_secs(10);

async fn tcp_server(address: SocketAddr, seed: u64, config: TransportConfig) -> Node {
    let incoming = TcpIncoming::bind(address).await.unwrap();
    let bound = incoming.local_addr().unwrap();
    let (handler, received) = InboundChannel::new(100_000);
    let transport = Transport::builder(TcpConnector::new())
        .seed(seed)
        .listen(NetworkAddress::from(bound), incoming)
        .config(config)
        .inbound(handler)
        .build()
        .unwrap();
    Node {
        transport,
        received,
    }
}

fn tcp_client(seed: u64, config: TransportConfig) -> Transport {
    Transport::builder(TcpConnector::new())
        .seed(seed)
        .config(config)
        .build()
        .unwrap()
}

fn server_address(node: &Node) -> NetworkAddress {
    node.transport.local_address().unwrap()
}

#[tokio::test]
async fn queued_reliable_packets_arrive_in_order_after_a_server_restart() {
    let mut server = tcp_server(
        "127.0.0.1:0".parse().unwrap(),
        1,
        TransportConfig::default(),
    )
    .await;
    let address = server_address(&server);
    let client = tcp_client(2, TransportConfig::default());
    let mut peer = client.peer(address);

    let mut receipts = Vec::new();
    for n in 1..=5 {
        receipts.push(peer.send(Outgoing::reliable(packet(n))).await.unwrap());
    }
    assert_eq!(server.recv_numbers(5, WITHIN).await, vec![1, 2, 3, 4, 5]);
    // Replies to 1..=3 arrived: they are acknowledged, 4 and 5 are not.
    for receipt in &receipts[..3] {
        receipt.reliable_handle().unwrap().cancel();
    }

    server.transport.shutdown().await;
    drop(server);
    for n in 6..=8 {
        peer.send(Outgoing::reliable(packet(n))).await.unwrap();
    }
    let mut restarted = tcp_server(address.socket_addr(), 3, TransportConfig::default()).await;

    assert_eq!(restarted.recv_numbers(5, WITHIN).await, vec![4, 5, 6, 7, 8]);
    assert!(restarted.nothing_within(Duration::from_millis(300)).await);
    let metrics = peer.metrics();
    assert_eq!(metrics.connections, 2);
    assert!(metrics.failures.total() >= 1);
    assert_eq!(metrics.reliable_outstanding, 5);
}

#[tokio::test]
async fn unreliable_packets_are_never_redelivered_and_their_loss_is_observable() {
    let mut server = tcp_server(
        "127.0.0.1:0".parse().unwrap(),
        1,
        TransportConfig::default(),
    )
    .await;
    let address = server_address(&server);
    let client = tcp_client(2, TransportConfig::default());
    let mut peer = client.peer(address);

    let first = peer.send(Outgoing::unreliable(packet(1))).await.unwrap();
    assert!(first.reliable_handle().is_none());
    assert_eq!(server.recv_numbers(1, WITHIN).await, vec![1]);
    assert!(!first.connection_failed());

    server.transport.shutdown().await;
    drop(server);
    tokio::time::timeout(WITHIN, first.connection_failure())
        .await
        .expect("the connection packet 1 went out on fails");

    // Queued while the server is down: discarded when the next attempt fails.
    let queued = peer.send(Outgoing::unreliable(packet(2))).await.unwrap();
    tokio::time::timeout(WITHIN, queued.connection_failure())
        .await
        .expect("the attempt packet 2 waited for fails");
    eventually(WITHIN, "packet 2 is discarded", || {
        peer.metrics().unreliable_discarded >= 1
    })
    .await;

    let mut restarted = tcp_server(address.socket_addr(), 3, TransportConfig::default()).await;
    peer.send(Outgoing::reliable(packet(3))).await.unwrap();
    assert_eq!(restarted.recv_numbers(1, WITHIN).await, vec![3]);
    assert!(restarted.nothing_within(Duration::from_millis(300)).await);
}

/// Our handshake, built from `docs/wire-format.md` rather than from the crate.
fn raw_handshake() -> Packet {
    let mut payload = Vec::new();
    payload.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    payload.extend_from_slice(&9u64.to_le_bytes());
    payload.extend_from_slice(&[0u8; 24]);
    Packet::new(HANDSHAKE_TOKEN, payload)
}

async fn accept_and_handshake(
    listener: &TcpListener,
) -> Framed<tokio::net::TcpStream, PacketCodec> {
    let (stream, _) = listener.accept().await.unwrap();
    let mut framed = Framed::new(stream, PacketCodec::new());
    let theirs = framed.next().await.unwrap().unwrap();
    assert_eq!(theirs.token, HANDSHAKE_TOKEN);
    framed.send(raw_handshake()).await.unwrap();
    framed
}

#[tokio::test]
async fn a_checksum_mismatch_closes_the_connection_which_reconnects_and_resends() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = NetworkAddress::from(listener.local_addr().unwrap());
    let client = tcp_client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();

    let mut first = accept_and_handshake(&listener).await;
    assert_eq!(number(&first.next().await.unwrap().unwrap()), 1);
    let mut corrupt = BytesMut::new();
    PacketCodec::new().encode(packet(99), &mut corrupt).unwrap();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x01;
    first.get_mut().write_all(&corrupt).await.unwrap();

    let mut second = tokio::time::timeout(WITHIN, accept_and_handshake(&listener))
        .await
        .expect("the peer reconnects");
    assert_eq!(number(&second.next().await.unwrap().unwrap()), 1, "resent");
    let metrics = peer.metrics();
    assert_eq!(metrics.failures.decode, 1);
    assert_eq!(metrics.connections, 2);
    assert!(matches!(
        peer.last_error().as_deref(),
        Some(ConnectionError::Decode(
            moonpool_codec::WireError::ChecksumMismatch { .. }
        ))
    ));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_incompatible_version_is_a_typed_error_logged_once_per_peer() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let newer = PeerConfig {
        protocol_version: PROTOCOL_VERSION + 0x1_0000,
        ..PeerConfig::default()
    };
    let server = tcp_server("127.0.0.1:0".parse().unwrap(), 1, with_peer(newer)).await;
    let client = tcp_client(2, TransportConfig::default());
    let mut peer = client.peer(server_address(&server));
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();

    eventually(WITHIN, "three attempts were refused", || {
        peer.metrics().failures.incompatible_version >= 3
    })
    .await;
    assert!(matches!(
        peer.last_error().as_deref(),
        Some(ConnectionError::Handshake(HandshakeError::IncompatibleVersion { local, remote }))
            if *local == PROTOCOL_VERSION && *remote == PROTOCOL_VERSION + 0x1_0000
    ));
    assert_eq!(peer.metrics().connections, 0);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("WARN").count(), 1, "{text}");
}

#[tokio::test]
async fn simultaneous_connects_end_with_exactly_one_connection() {
    let mut a = tcp_server(
        "127.0.0.1:0".parse().unwrap(),
        1,
        TransportConfig::default(),
    )
    .await;
    let mut b = tcp_server(
        "127.0.0.1:0".parse().unwrap(),
        2,
        TransportConfig::default(),
    )
    .await;
    let mut a_to_b = a.transport.peer(server_address(&b));
    let mut b_to_a = b.transport.peer(server_address(&a));

    let (sent_a, sent_b) = tokio::join!(
        a_to_b.send(Outgoing::reliable(packet(1))),
        b_to_a.send(Outgoing::reliable(packet(2))),
    );
    sent_a.unwrap();
    sent_b.unwrap();
    assert_eq!(number(&b.recv(WITHIN).await.packet), 1);
    assert_eq!(number(&a.recv(WITHIN).await.packet), 2);

    let live = |peer: &moonpool_tower::peer::Peer| {
        let metrics = peer.metrics();
        metrics.connections - (metrics.failures.total() - metrics.failures.connect)
    };
    eventually(WITHIN, "both sides settle on one connection", || {
        live(&a_to_b) == 1 && live(&b_to_a) == 1
    })
    .await;
    let settled = (a_to_b.metrics().failures, b_to_a.metrics().failures);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        (a_to_b.metrics().failures, b_to_a.metrics().failures),
        settled
    );
    assert_eq!(live(&a_to_b), 1);
    assert_eq!(live(&b_to_a), 1);
}

#[tokio::test]
async fn an_oversize_frame_closes_the_connection_which_reconnects_and_is_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = NetworkAddress::from(listener.local_addr().unwrap());
    let client = tcp_client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();

    let mut first = accept_and_handshake(&listener).await;
    assert_eq!(number(&first.next().await.unwrap().unwrap()), 1);
    // A header claiming a 1 GiB frame, and nothing after it.
    let mut header = (1u32 << 30).to_le_bytes().to_vec();
    header.extend_from_slice(&[0u8; 20]);
    first.get_mut().write_all(&header).await.unwrap();

    let mut second = tokio::time::timeout(WITHIN, accept_and_handshake(&listener))
        .await
        .expect("the peer reconnects");
    assert_eq!(number(&second.next().await.unwrap().unwrap()), 1, "resent");
    assert_eq!(peer.metrics().failures.decode, 1);
    assert!(matches!(
        peer.last_error().as_deref(),
        Some(ConnectionError::Decode(
            moonpool_codec::WireError::FrameTooLarge { .. }
        ))
    ));
}
