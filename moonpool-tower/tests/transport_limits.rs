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

/// Whether the server closed `framed` (end of stream) within [`WITHIN`].
async fn closed(framed: &mut Framed<tokio::io::DuplexStream, PacketCodec>) -> bool {
    matches!(
        tokio::time::timeout(WITHIN, framed.next()).await,
        Ok(None | Some(Err(_)))
    )
}

/// Connects, and reads the server's handshake; sends none.
async fn stalled(
    net: &MemoryNet,
    address: std::net::SocketAddr,
) -> Framed<tokio::io::DuplexStream, PacketCodec> {
    let mut framed = Framed::new(net.connect(address).await.unwrap(), PacketCodec::new());
    assert_eq!(framed.next().await.unwrap().unwrap().token, HANDSHAKE_TOKEN);
    framed
}

#[tokio::test(start_paused = true)]
async fn a_new_connection_evicts_the_oldest_unfinished_handshake_when_the_limit_is_full() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let server = net.server(address, 1, limits(2, 100));
    let mut oldest = stalled(&net, address).await;
    let mut second = stalled(&net, address).await;
    let mut newest = stalled(&net, address).await;
    assert!(closed(&mut oldest).await, "the oldest made room");
    assert_eq!(
        server.transport.accept_metrics(),
        AcceptMetrics {
            accepted: 3,
            evicted_handshaking: 1,
            evicted_same_source: 0,
            handshake_timeouts: 0,
            refused_anonymous: 0,
            handshaking: 2,
            anonymous_peers: 0,
        }
    );

    // The others reach their deadline (5 s), which frees their places.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(closed(&mut second).await && closed(&mut newest).await);
    let metrics = server.transport.accept_metrics();
    assert_eq!((metrics.handshaking, metrics.handshake_timeouts), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_source_over_its_handshake_share_evicts_its_own_oldest() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let config = TransportConfig {
        accept: AcceptConfig {
            max_handshaking: 100,
            max_handshaking_per_source: 2,
            ..AcceptConfig::default()
        },
        ..TransportConfig::default()
    };
    let server = net.server(address, 1, config);
    let mut oldest = stalled(&net, address).await;
    let _second = stalled(&net, address).await;
    let _newest = stalled(&net, address).await;
    assert!(closed(&mut oldest).await);
    let metrics = server.transport.accept_metrics();
    assert_eq!(
        (
            metrics.evicted_same_source,
            metrics.evicted_handshaking,
            metrics.handshaking
        ),
        (1, 0, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_completes_its_handshake_while_stalled_connections_fill_the_limit() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, limits(4, 100));
    let mut attackers = Vec::new();
    for _ in 0..8 {
        attackers.push(stalled(&net, address).await);
    }
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(packet(7))).await.unwrap();
    assert_eq!(number(&server.recv(WITHIN).await.packet), 7);
    assert!(server.transport.accept_metrics().evicted_handshaking >= 4);
    drop(attackers);
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
