//! Each peer's share of an endpoint: a peer that floods a slow endpoint
//! fills its own share of the handler tasks or of the request-stream queue
//! and gets `BrokenPromise` beyond it, while another peer is still served.
//! Real loopback TCP, two client nodes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod node_support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use moonpool_codec::{Endpoint, NetworkAddress, Uid};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{RpcClient, RpcError};
use moonpool_tower::transport::{EndpointConfig, Transport, TransportConfig};
use node_support::{tcp_client, within};
use tokio::sync::Semaphore;

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

const SLOW: Uid = Uid::new(0x5105, 1);
const QUEUED: Uid = Uid::new(0x5105, 2);

/// A listening node on loopback with `endpoint` limits.
async fn server(endpoint: EndpointConfig) -> (Transport, NetworkAddress) {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address: NetworkAddress = incoming.local_addr().unwrap().into();
    let transport = Transport::builder(TcpConnector::new())
        .seed(3)
        .config(TransportConfig {
            endpoint,
            ..TransportConfig::default()
        })
        .listen(address, incoming)
        .build()
        .unwrap();
    (transport, address)
}

/// Outcomes of `calls`: (answered, broken promises).
async fn outcomes(calls: Vec<tokio::task::JoinHandle<Result<Num, RpcError>>>) -> (usize, usize) {
    let (mut answered, mut broken) = (0, 0);
    for call in calls {
        match within(call).await.unwrap() {
            Ok(_) => answered += 1,
            Err(RpcError::BrokenPromise { .. }) => broken += 1,
            Err(other) => panic!("unexpected outcome {other}"),
        }
    }
    (answered, broken)
}

#[tokio::test]
async fn a_flooding_peer_fills_its_share_of_handler_tasks_and_another_peer_is_served() {
    let (server, address) = server(EndpointConfig {
        max_handler_tasks: 8,
        max_handler_tasks_per_peer: 4,
        ..EndpointConfig::default()
    })
    .await;
    let gate = Arc::new(Semaphore::new(0));
    let held = gate.clone();
    let slow = tower::service_fn(move |n: Num| {
        let gate = held.clone();
        async move {
            gate.acquire().await.unwrap().forget();
            Ok::<_, Infallible>(n)
        }
    });
    server.router().serve(SLOW, slow).unwrap();
    let (flooder, polite) = (tcp_client(4), tcp_client(5));
    let flood = RpcClient::<Num, Num>::new(&flooder, Endpoint::new(address, SLOW));
    let calls: Vec<_> = (0..40)
        .map(|value| tokio::spawn(flood.get_reply(Num { value })))
        .collect();
    within(async {
        while server.router().rejected_requests() < 36 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(server.router().handler_tasks(), 4, "the flooder's share");

    let polite = RpcClient::<Num, Num>::new(&polite, Endpoint::new(address, SLOW));
    let served: Vec<_> = (0..4)
        .map(|value| tokio::spawn(polite.get_reply(Num { value })))
        .collect();
    within(async {
        while server.router().handler_tasks() < 8 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    gate.add_permits(8);
    assert_eq!(outcomes(served).await, (4, 0));
    assert_eq!(outcomes(calls).await, (4, 36));
}

#[tokio::test]
async fn a_flooding_peer_fills_its_share_of_a_request_stream_and_another_peer_is_queued() {
    let (server, address) = server(EndpointConfig {
        request_stream_capacity: 8,
        request_stream_capacity_per_peer: 3,
        ..EndpointConfig::default()
    })
    .await;
    let mut stream: RequestStream<Num, Num> = server.router().request_stream(QUEUED).unwrap();
    let (flooder, polite) = (tcp_client(6), tcp_client(7));
    let flood = RpcClient::<Num, Num>::new(&flooder, Endpoint::new(address, QUEUED));
    let calls: Vec<_> = (0..20)
        .map(|value| tokio::spawn(flood.get_reply(Num { value })))
        .collect();
    // Its share is queued; every other call of its is refused at once.
    within(async {
        while stream.len() < 3 || calls.iter().filter(|c| c.is_finished()).count() < 17 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    let polite = RpcClient::<Num, Num>::new(&polite, Endpoint::new(address, QUEUED));
    let queued: Vec<_> = (100..103)
        .map(|value| tokio::spawn(polite.get_reply(Num { value })))
        .collect();
    within(async {
        while stream.len() < 6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    while let Some((request, promise)) = stream.try_recv() {
        promise.send(request);
    }
    assert_eq!(outcomes(queued).await, (3, 0));
    assert_eq!(outcomes(calls).await, (3, 17));
}
