//! Every way an RPC over real loopback TCP can end, each observed from the
//! client: response, application error, BrokenPromise, EndpointNotFound,
//! MaybeDelivered, decode errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod node_support;

use std::convert::Infallible;

use moonpool_codec::{Endpoint, Uid};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{ApplicationError, RpcClient, RpcError};
use moonpool_tower::transport::Transport;
use node_support::{tcp_client as client, tcp_server as server, within};
use tower::ServiceExt;

#[derive(Clone, PartialEq, prost::Message)]
struct Ping {
    #[prost(uint64, tag = "1")]
    seq: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Pong {
    #[prost(uint64, tag = "1")]
    seq: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Text {
    #[prost(string, tag = "1")]
    text: String,
}

const PING: Uid = Uid::new(0x5eed, 1);

fn pong_service()
-> impl tower::Service<Ping, Response = Pong, Error = Infallible, Future: Send> + Clone + Send {
    tower::service_fn(|ping: Ping| async move { Ok::<_, Infallible>(Pong { seq: ping.seq + 1 }) })
}

#[tokio::test]
async fn a_typed_service_answers_with_its_response() {
    let (server, address) = server(1).await;
    server.router().serve(PING, pong_service()).unwrap();
    let client = client(2);
    let rpc = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, PING));
    for seq in 0..10 {
        let pong = within(rpc.clone().oneshot(Ping { seq })).await.unwrap();
        assert_eq!(pong.seq, seq + 1);
    }
    let pong = within(rpc.try_get_reply(Ping { seq: 41 })).await.unwrap();
    assert_eq!(pong.seq, 42);
    assert_eq!(client.router().pending_replies(), 0);
}

#[tokio::test]
async fn a_service_error_reaches_the_caller_as_an_application_error() {
    let (server, address) = server(3).await;
    let failing = tower::service_fn(|ping: Ping| async move {
        if ping.seq == 7 {
            Err::<Pong, _>(tower::BoxError::from(ApplicationError::new(42, "seven")))
        } else {
            Err(tower::BoxError::from("plain failure"))
        }
    });
    server.router().serve(PING, failing).unwrap();
    let client = client(4);
    let rpc = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, PING));
    match within(rpc.get_reply(Ping { seq: 7 })).await {
        Err(RpcError::Application(error)) => assert_eq!(error, ApplicationError::new(42, "seven")),
        other => panic!("expected the application error, got {other:?}"),
    }
    match within(rpc.get_reply(Ping { seq: 1 })).await {
        Err(RpcError::Application(error)) => {
            assert_eq!(error.code, ApplicationError::UNSPECIFIED);
            assert_eq!(error.message, "plain failure");
        }
        other => panic!("expected the application error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dropped_promise_is_a_broken_promise() {
    let (server, address) = server(5).await;
    let mut requests: RequestStream<Ping, Pong> = server.router().request_stream(PING).unwrap();
    let client = client(6);
    let rpc = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, PING));
    let call = tokio::spawn(rpc.get_reply(Ping { seq: 1 }));
    let (ping, promise) = within(requests.recv()).await.unwrap();
    assert_eq!(ping.seq, 1);
    drop(promise);
    match within(call).await.unwrap() {
        Err(RpcError::BrokenPromise { endpoint }) => {
            assert_eq!(endpoint, Endpoint::new(address, PING))
        }
        other => panic!("expected BrokenPromise, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unregistered_token_is_endpoint_not_found_in_both_delivery_modes() {
    let (_server, address) = server(7).await;
    let client = client(8);
    let nowhere = Endpoint::new(address, Uid::new(1, 2));
    let rpc = RpcClient::<Ping, Pong>::new(&client, nowhere);
    for result in [
        within(rpc.get_reply(Ping { seq: 1 })).await,
        within(rpc.try_get_reply(Ping { seq: 2 })).await,
    ] {
        match result {
            Err(RpcError::EndpointNotFound { endpoint }) => assert_eq!(endpoint, nowhere),
            other => panic!("expected EndpointNotFound, got {other:?}"),
        }
    }
    assert_eq!(client.router().pending_replies(), 0);
}

#[tokio::test]
async fn endpoint_not_found_fails_only_calls_to_the_unknown_token() {
    let (server, address) = server(9).await;
    let mut held: RequestStream<Ping, Pong> = server.router().request_stream(PING).unwrap();
    let client = client(10);
    let served = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, PING));
    let waiting = tokio::spawn(served.get_reply(Ping { seq: 1 }));
    let (_, promise) = within(held.recv()).await.unwrap();
    let missing = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, Uid::new(3, 3)));
    assert!(matches!(
        within(missing.get_reply(Ping { seq: 2 })).await,
        Err(RpcError::EndpointNotFound { .. })
    ));
    promise.send(Pong { seq: 9 });
    assert_eq!(within(waiting).await.unwrap().unwrap().seq, 9);
}

#[tokio::test]
async fn an_unreliable_request_on_a_failed_connection_is_maybe_delivered() {
    let (server, address) = server(11).await;
    let mut requests: RequestStream<Ping, Pong> = server.router().request_stream(PING).unwrap();
    let client = client(12);
    let rpc = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, PING)).unreliable();
    let call = tokio::spawn(rpc.clone().oneshot(Ping { seq: 1 }));
    // The server holds the promise (no BrokenPromise) and goes away.
    let (_ping, promise) = within(requests.recv()).await.unwrap();
    server.shutdown().await;
    match within(call).await.unwrap() {
        Err(RpcError::MaybeDelivered { endpoint }) => {
            assert_eq!(endpoint, Endpoint::new(address, PING))
        }
        other => panic!("expected MaybeDelivered, got {other:?}"),
    }
    drop(promise);
}

#[tokio::test]
async fn a_reliable_request_is_resent_to_a_restarted_server_and_answered() {
    let (server, address) = server(13).await;
    let mut requests: RequestStream<Ping, Pong> = server.router().request_stream(PING).unwrap();
    let client = client(14);
    let rpc = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, PING));
    let call = tokio::spawn(rpc.get_reply(Ping { seq: 5 }));
    let (_ping, promise) = within(requests.recv()).await.unwrap();
    server.shutdown().await;
    drop(promise);
    drop(requests);

    // The same address, a new process: the request arrives again.
    let incoming = TcpIncoming::bind(address.socket_addr()).await.unwrap();
    let restarted = Transport::builder(TcpConnector::new())
        .seed(15)
        .listen(address, incoming)
        .build()
        .unwrap();
    restarted.router().serve(PING, pong_service()).unwrap();
    assert_eq!(within(call).await.unwrap().unwrap().seq, 6);
}

#[tokio::test]
async fn a_reply_that_does_not_decode_is_a_decode_error() {
    let (server, address) = server(16).await;
    let text = tower::service_fn(|_: Ping| async move {
        Ok::<_, Infallible>(Text {
            text: "not a pong".into(),
        })
    });
    server.router().serve(PING, text).unwrap();
    let client = client(17);
    let rpc = RpcClient::<Ping, Pong>::new(&client, Endpoint::new(address, PING));
    assert!(matches!(
        within(rpc.get_reply(Ping { seq: 1 })).await,
        Err(RpcError::Decode { .. })
    ));
}

#[tokio::test]
async fn a_request_the_server_cannot_decode_is_a_bad_request() {
    let (server, address) = server(18).await;
    server.router().serve(PING, pong_service()).unwrap();
    let client = client(19);
    let rpc = RpcClient::<Text, Pong>::new(&client, Endpoint::new(address, PING));
    assert!(matches!(
        within(rpc.get_reply(Text { text: "x".into() })).await,
        Err(RpcError::BadRequest { .. })
    ));
}
