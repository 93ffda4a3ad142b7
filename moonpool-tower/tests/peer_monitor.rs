//! The connection monitor and the connect/handshake timeouts, on paused
//! time over in-memory duplex connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use moonpool_codec::{Packet, PacketCodec};
use moonpool_tower::peer::{
    ConnectionError, HANDSHAKE_TOKEN, Outgoing, PROTOCOL_VERSION, PeerState,
};
use moonpool_tower::transport::TransportConfig;
use peer_support::{MemoryNet, addr, eventually, packet};
use tokio_util::codec::Framed;

const WITHIN: Duration = Duration::from_secs(10);

fn handshake_frame() -> Packet {
    let mut payload = PROTOCOL_VERSION.to_le_bytes().to_vec();
    payload.extend_from_slice(&5u64.to_le_bytes());
    payload.extend_from_slice(&[0u8; 24]);
    Packet::new(HANDSHAKE_TOKEN, payload)
}

/// A server that completes the handshake, then neither reads nor writes:
/// the far end of a half-open connection.
fn silent_server(net: &MemoryNet, address: std::net::SocketAddr, answer_handshake: bool) {
    let mut incoming = Box::pin(net.listen(address));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(Ok((stream, _))) = incoming.next().await {
            let mut framed = Framed::new(stream, PacketCodec::new());
            if answer_handshake {
                framed.next().await.unwrap().unwrap();
                framed.send(handshake_frame()).await.unwrap();
            }
            held.push(framed);
        }
    });
}

#[tokio::test(start_paused = true)]
async fn pings_keep_an_idle_connection_open() {
    let net = MemoryNet::default();
    let mut server = net.server(addr("10.0.0.1:1"), 1, TransportConfig::default());
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(addr("10.0.0.1:1"));
    let receipt = peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    server.recv(WITHIN).await;
    receipt.reliable_handle().unwrap().cancel();
    let after_first = peer.metrics().bytes_received;

    tokio::time::sleep(Duration::from_secs(30)).await;

    let metrics = peer.metrics();
    assert_eq!(metrics.failures.total(), 0);
    assert_eq!(metrics.connections, 1);
    assert_eq!(metrics.state, PeerState::Connected);
    assert!(
        metrics.bytes_received >= after_first + 10 * 33,
        "pings or pongs flowed on the idle connection: {metrics:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_half_open_connection_is_declared_failed_after_the_ping_timeout() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    silent_server(&net, address, true);
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    eventually(WITHIN, "connected", || peer.metrics().connections == 1).await;
    let connected_at = tokio::time::Instant::now();

    // One ping interval without bytes, then a ping timeout without bytes.
    tokio::time::sleep_until(connected_at + Duration::from_millis(2900)).await;
    assert_eq!(
        peer.metrics().failures.ping_timeout,
        0,
        "not before 1 s + 2 s"
    );
    tokio::time::sleep_until(connected_at + Duration::from_millis(3100)).await;
    assert_eq!(peer.metrics().failures.ping_timeout, 1);
    assert!(matches!(
        peer.last_error().as_deref(),
        Some(ConnectionError::PingTimeout { .. })
    ));
    // The peer reconnects (to another silent connection) to resend.
    eventually(WITHIN, "reconnected", || peer.metrics().connections == 2).await;
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_the_handshake_times_out() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    silent_server(&net, address, false);
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    let start = tokio::time::Instant::now();
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();

    eventually(WITHIN, "the handshake timed out", || {
        peer.metrics().failures.handshake == 1
    })
    .await;
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(5) && elapsed < Duration::from_millis(5100));
    assert_eq!(peer.metrics().connections, 0);
}

#[tokio::test(start_paused = true)]
async fn a_connect_that_hangs_times_out() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    net.black_hole(address);
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    let start = tokio::time::Instant::now();
    peer.send(Outgoing::unreliable(packet(1))).await.unwrap();

    eventually(WITHIN, "the connect timed out", || {
        peer.metrics().failures.connect_timeout == 1
    })
    .await;
    assert!(start.elapsed() >= Duration::from_secs(5));
    assert_eq!(peer.metrics().unreliable_discarded, 1);
}

#[tokio::test(start_paused = true)]
async fn the_transport_answers_a_ping_with_a_pong_on_the_same_connection() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let _server = net.server(address, 1, TransportConfig::default());
    let stream = net.connect(address).await.unwrap();
    let mut framed = Framed::new(stream, PacketCodec::new());
    framed.send(handshake_frame()).await.unwrap();
    assert_eq!(framed.next().await.unwrap().unwrap().token, HANDSHAKE_TOKEN);

    // The ping of docs/wire-format.md's test vector, written as raw bytes.
    let ping = hex("21000000c327fd4cffffffffffffffff0100000000000000002a00000000000000");
    tokio::io::AsyncWriteExt::write_all(framed.get_mut(), &ping)
        .await
        .unwrap();
    let pong = framed.next().await.unwrap().unwrap();
    let mut encoded = bytes::BytesMut::new();
    tokio_util::codec::Encoder::encode(&mut PacketCodec::new(), pong, &mut encoded).unwrap();
    assert_eq!(
        encoded.to_vec(),
        hex("210000008bf1c3b8ffffffffffffffff0100000000000000012a00000000000000")
    );
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
