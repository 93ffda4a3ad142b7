//! The transport's limits: on incoming connections in their handshake, on
//! anonymous peers, and on the capacities a configuration may ask for.
//! Paused time, in-memory connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::time::Duration;

use futures_util::StreamExt;
use moonpool_codec::PacketCodec;
use moonpool_tower::peer::{HANDSHAKE_TOKEN, Outgoing, PeerConfig};
use moonpool_tower::transport::{
    AcceptConfig, AcceptMetrics, EndpointConfig, Transport, TransportConfig, TransportConfigError,
};
use peer_support::{MemoryNet, addr, eventually, number, packet};
use tokio::io::AsyncReadExt;
use tokio_util::codec::Framed;

const WITHIN: Duration = Duration::from_secs(10);

fn limits(max_handshaking: usize, max_anonymous_peers: usize) -> TransportConfig {
    TransportConfig {
        accept: AcceptConfig {
            max_handshaking,
            max_anonymous_peers,
            ..AcceptConfig::default()
        },
        ..TransportConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn connections_beyond_the_handshake_limit_are_closed_at_once() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let server = net.server(address, 1, limits(2, 100));
    // Three connections that never send their handshake.
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let mut framed = Framed::new(net.connect(address).await.unwrap(), PacketCodec::new());
        assert_eq!(framed.next().await.unwrap().unwrap().token, HANDSHAKE_TOKEN);
        waiting.push(framed);
    }
    let mut refused = net.connect(address).await.unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        tokio::time::timeout(WITHIN, refused.read(&mut byte))
            .await
            .unwrap()
            .unwrap(),
        0,
        "closed without a handshake"
    );
    assert_eq!(
        server.transport.accept_metrics(),
        AcceptMetrics {
            accepted: 3,
            refused_handshaking: 1,
            refused_anonymous: 0,
            handshaking: 2,
            anonymous_peers: 0,
        }
    );

    // Their handshakes time out (5 s), which frees the places.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(server.transport.accept_metrics().handshaking, 0);
    let mut later = Framed::new(net.connect(address).await.unwrap(), PacketCodec::new());
    assert_eq!(later.next().await.unwrap().unwrap().token, HANDSHAKE_TOKEN);
    drop(waiting);
}

#[tokio::test(start_paused = true)]
async fn anonymous_peers_beyond_the_limit_are_closed_until_one_goes() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, limits(100, 1));
    let first = net.client(2, TransportConfig::default());
    let mut first_peer = first.peer(address);
    first_peer
        .send(Outgoing::reliable(packet(1)))
        .await
        .unwrap();
    assert_eq!(number(&server.recv(WITHIN).await.packet), 1);

    let second = net.client(3, TransportConfig::default());
    let mut second_peer = second.peer(address);
    second_peer
        .send(Outgoing::reliable(packet(2)))
        .await
        .unwrap();
    eventually(WITHIN, "the second client is refused", || {
        server.transport.accept_metrics().refused_anonymous >= 1
    })
    .await;
    assert!(server.nothing_within(Duration::from_secs(1)).await);
    assert!(second_peer.metrics().failures.total() >= 1);
    assert_eq!(server.transport.accept_metrics().anonymous_peers, 1);

    // The first client goes: its anonymous peer ends with its connection,
    // and the second client's next attempt is served.
    first.transport.shutdown().await;
    assert_eq!(number(&server.recv(WITHIN).await.packet), 2);
    assert_eq!(server.transport.accept_metrics().anonymous_peers, 1);
}

#[tokio::test]
async fn build_refuses_capacities_too_large_to_enforce() {
    let max = tokio::sync::Semaphore::MAX_PERMITS;
    let build = |config: TransportConfig| {
        Transport::builder(MemoryNet::default().connector())
            .seed(1)
            .config(config)
            .build()
    };
    let queue = TransportConfig {
        peer: PeerConfig {
            queue_capacity: max + 1,
            ..PeerConfig::default()
        },
        ..TransportConfig::default()
    };
    assert_eq!(
        build(queue).unwrap_err(),
        TransportConfigError::CapacityTooLarge {
            field: "peer.queue_capacity",
            value: max + 1,
            max,
        }
    );
    let stream = TransportConfig {
        endpoint: EndpointConfig {
            request_stream_capacity: usize::MAX,
            ..EndpointConfig::default()
        },
        ..TransportConfig::default()
    };
    assert!(matches!(
        build(stream),
        Err(TransportConfigError::CapacityTooLarge {
            field: "endpoint.request_stream_capacity",
            ..
        })
    ));
    let at_the_limit = TransportConfig {
        peer: PeerConfig {
            queue_capacity: max,
            ..PeerConfig::default()
        },
        ..TransportConfig::default()
    };
    let transport = build(at_the_limit).unwrap();
    assert!(!transport.peer(addr("10.0.0.1:1").into()).is_closed());
}
