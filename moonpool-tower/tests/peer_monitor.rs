//! The connection monitor and the connect/handshake timeouts, on paused
//! time over in-memory duplex connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use moonpool_codec::Uid;
use moonpool_codec::{Packet, PacketCodec};
use moonpool_tower::peer::{
    ConnectionError, HANDSHAKE_TOKEN, Outgoing, PROTOCOL_VERSION, PeerConfig, PeerState,
};
use moonpool_tower::transport::TransportConfig;
use peer_support::{MemoryNet, addr, eventually, number, packet};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Encoder, Framed, FramedRead};

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

/// What a scripted server does after the handshake on one connection.
#[derive(Clone, Copy)]
enum Script {
    /// Sends a frame header whose length field says 1 MiB (within the
    /// maximum; a flipped bit can do this), then keeps sending well-formed
    /// frames every 100 ms, all swallowed by the phantom frame.
    CorruptLengthThenKeepSending,
    /// Sends one valid 64 KiB frame, 4 KiB every 300 ms (about 5 s), then
    /// a small frame every 500 ms.
    SlowLargeFrame,
    /// Behaves: forwards what it receives.
    Behave,
}

fn encode(packet: Packet) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    PacketCodec::new().encode(packet, &mut buf).unwrap();
    buf.to_vec()
}

/// A server that runs `scripts[i]` on its `i`-th connection (the last one
/// on later connections), and forwards every packet it receives.
fn scripted_server(
    net: &MemoryNet,
    address: std::net::SocketAddr,
    scripts: Vec<Script>,
) -> mpsc::UnboundedReceiver<Packet> {
    let mut incoming = Box::pin(net.listen(address));
    let (received, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut index = 0;
        while let Some(Ok((stream, _))) = incoming.next().await {
            let script = scripts[index.min(scripts.len() - 1)];
            index += 1;
            let received = received.clone();
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, PacketCodec::new());
                framed.next().await.unwrap().unwrap();
                framed.send(handshake_frame()).await.unwrap();
                let parts = framed.into_parts();
                let (read, mut raw) = tokio::io::split(parts.io);
                let mut reader = FramedRead::new(read, PacketCodec::new());
                *reader.read_buffer_mut() = parts.read_buf;
                tokio::spawn(async move {
                    while let Some(Ok(packet)) = reader.next().await {
                        let _ = received.send(packet);
                    }
                });
                match script {
                    Script::CorruptLengthThenKeepSending => {
                        let mut header = (1u32 << 20).to_le_bytes().to_vec();
                        header.extend_from_slice(&[0u8; 20]);
                        raw.write_all(&header).await.unwrap();
                        for n in 0.. {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            if raw.write_all(&encode(packet(n))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Script::SlowLargeFrame => {
                        let frame = encode(Packet::new(Uid::new(7, 7), vec![7u8; 64 * 1024]));
                        for chunk in frame.chunks(4096) {
                            raw.write_all(chunk).await.unwrap();
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                        // Then small frames, so that the client never
                        // needs to ping (this server does not answer).
                        for n in 0.. {
                            if raw.write_all(&encode(packet(n))).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                    Script::Behave => std::future::pending().await,
                }
            });
        }
    });
    receiver
}

#[tokio::test(start_paused = true)]
async fn a_corrupted_length_field_fails_the_connection_even_while_bytes_keep_arriving() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = scripted_server(
        &net,
        address,
        vec![Script::CorruptLengthThenKeepSending, Script::Behave],
    );
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    assert_eq!(number(&server.recv().await.unwrap()), 1);
    let connected_at = Instant::now();

    // Bytes arrive every 100 ms, so no ping is ever sent; but no frame
    // completes after the handshake. Documented bound: failed within
    // `max_frame_stall_intervals + 1` ping intervals of the last frame.
    let config = PeerConfig::default();
    let bound = config.ping_interval * (config.max_frame_stall_intervals + 1);
    eventually(
        bound + Duration::from_millis(20),
        "the stalled connection fails",
        || peer.metrics().failures.frame_stalled == 1,
    )
    .await;
    let failed_after = connected_at.elapsed();
    assert!(
        failed_after >= config.ping_interval * (config.max_frame_stall_intervals - 1),
        "not long before the bound: {failed_after:?}"
    );
    assert!(failed_after <= bound, "{failed_after:?} > {bound:?}");
    assert_eq!(peer.metrics().failures.ping_timeout, 0);
    assert!(matches!(
        peer.last_error().as_deref(),
        Some(ConnectionError::FrameStalled { buffered, .. }) if *buffered > 24
    ));
    // The unacknowledged reliable packet is resent on the next connection.
    assert_eq!(number(&server.recv().await.unwrap()), 1);
    assert_eq!(peer.metrics().connections, 2);
}

#[tokio::test(start_paused = true)]
async fn a_large_frame_that_keeps_arriving_within_the_bound_is_delivered() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = scripted_server(&net, address, vec![Script::SlowLargeFrame]);
    let mut client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    server.recv().await.unwrap();

    let large = client.recv(WITHIN).await;
    assert_eq!(large.packet.payload.len(), 64 * 1024);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let metrics = peer.metrics();
    assert_eq!(metrics.failures.total(), 0, "{metrics:?}");
    assert_eq!(metrics.connections, 1);
}
