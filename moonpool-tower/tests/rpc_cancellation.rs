//! Dropping a response future cancels the call; a late reply is dropped
//! quietly; local delivery keeps the same outcomes without a socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod node_support;

use std::convert::Infallible;
use std::time::Duration;

use moonpool_codec::{Endpoint, Uid};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::rpc::{RpcClient, RpcError};
use node_support::{tcp_client as client, tcp_server as server, within};
use tower::{Service, ServiceExt};

#[derive(Clone, PartialEq, prost::Message)]
struct Ping {
    #[prost(uint64, tag = "1")]
    seq: u64,
}

const PING: Uid = Uid::new(0xcafe, 1);

#[tokio::test]
async fn dropping_the_response_future_forgets_the_call_and_stops_resending() {
    let (server, address) = server(1).await;
    let mut requests: RequestStream<Ping, Ping> = server.router().request_stream(PING).unwrap();
    let client = client(2);
    let mut rpc = RpcClient::<Ping, Ping>::new(&client, Endpoint::new(address, PING));
    rpc.ready().await.unwrap();
    let future = rpc.call(Ping { seq: 1 });
    assert_eq!(client.router().pending_replies(), 1);
    let (_, promise) = within(requests.recv()).await.unwrap();
    let peer = client.peer(address);
    assert_eq!(peer.metrics().reliable_outstanding, 1);
    drop(future);
    assert_eq!(client.router().pending_replies(), 0);
    assert_eq!(peer.metrics().reliable_outstanding, 0);

    // The reply now comes late: dropped quietly, the connection stays.
    promise.send(Ping { seq: 2 });
    let answered = tokio::spawn(rpc.get_reply(Ping { seq: 3 }));
    let (ping, promise) = within(requests.recv()).await.unwrap();
    assert_eq!(ping.seq, 3, "the cancelled request was not resent");
    promise.send(Ping { seq: 4 });
    assert_eq!(within(answered).await.unwrap().unwrap().seq, 4);
    assert_eq!(peer.metrics().connections, 1);
    assert!(requests.try_recv().is_none());
}

#[tokio::test]
async fn a_call_to_an_endpoint_of_the_same_node_is_delivered_locally() {
    let (node, address) = server(3).await;
    let echo = tower::service_fn(|ping: Ping| async move { Ok::<_, Infallible>(ping) });
    node.router().serve(PING, echo).unwrap();
    let rpc = RpcClient::<Ping, Ping>::new(&node, Endpoint::new(address, PING));
    assert!(rpc.is_local());
    assert_eq!(within(rpc.get_reply(Ping { seq: 8 })).await.unwrap().seq, 8);

    let missing = RpcClient::<Ping, Ping>::new(&node, Endpoint::new(address, Uid::new(5, 5)));
    assert!(matches!(
        within(missing.try_get_reply(Ping { seq: 1 })).await,
        Err(RpcError::EndpointNotFound { .. })
    ));

    let mut held: RequestStream<Ping, Ping> = node.router().request_stream(Uid::new(6, 6)).unwrap();
    let broken = RpcClient::<Ping, Ping>::new(&node, Endpoint::new(address, Uid::new(6, 6)));
    let call = tokio::spawn(broken.get_reply(Ping { seq: 1 }));
    drop(within(held.recv()).await.unwrap());
    assert!(matches!(
        within(call).await.unwrap(),
        Err(RpcError::BrokenPromise { .. })
    ));
    assert!(node.peer_addresses().is_empty(), "no socket was used");
}

#[tokio::test]
async fn dropping_a_request_stream_unregisters_it_and_breaks_queued_promises() {
    let (server, address) = server(4).await;
    let requests: RequestStream<Ping, Ping> = server.router().request_stream(PING).unwrap();
    let client = client(5);
    let rpc = RpcClient::<Ping, Ping>::new(&client, Endpoint::new(address, PING));
    let queued = tokio::spawn(rpc.get_reply(Ping { seq: 1 }));
    within(async {
        while requests.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    drop(requests);
    assert!(matches!(
        within(queued).await.unwrap(),
        Err(RpcError::BrokenPromise { .. })
    ));
    assert!(!server.router().is_registered(PING));
    assert!(matches!(
        within(rpc.get_reply(Ping { seq: 2 })).await,
        Err(RpcError::EndpointNotFound { .. })
    ));
}
