//! The bound on a router's handler tasks (requests whose service did not
//! answer at once): beyond it callers get `BrokenPromise` at once, and the
//! number of tasks stays bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod node_support;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use moonpool_codec::{Endpoint, NetworkAddress, Uid};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::endpoint::DEFAULT_MAX_HANDLER_TASKS;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{RpcClient, RpcError};
use moonpool_tower::transport::{EndpointConfig, Transport, TransportConfig};
use node_support::{local_node, within};
use tokio::io::DuplexStream;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

/// Where the node claims to listen (it never accepts).
const ADDRESS: &str = "10.9.9.7:4500";
const SLOW: Uid = Uid::new(0x5104, 1);
const QUEUED: Uid = Uid::new(0x5104, 2);

/// A service that answers each request once `gate` hands it a permit.
fn gated(
    gate: Arc<Semaphore>,
) -> impl tower::Service<Num, Response = Num, Error = Infallible, Future: Send> + Clone + Send {
    tower::service_fn(move |n: Num| {
        let gate = gate.clone();
        async move {
            gate.acquire().await.unwrap().forget();
            Ok::<_, Infallible>(n)
        }
    })
}

#[tokio::test]
async fn a_router_starts_with_the_default_limit_and_no_task() {
    let (node, _) = local_node(1, ADDRESS);
    assert_eq!(node.router().max_handler_tasks(), DEFAULT_MAX_HANDLER_TASKS);
    assert_eq!(node.router().handler_tasks(), 0);
    assert_eq!(node.router().rejected_requests(), 0);
}

#[tokio::test]
async fn the_limit_comes_from_the_transport_config() {
    let never = futures_util::stream::pending::<io::Result<(DuplexStream, SocketAddr)>>();
    let config = TransportConfig {
        endpoint: EndpointConfig {
            max_handler_tasks: 7,
            ..EndpointConfig::default()
        },
        ..TransportConfig::default()
    };
    let node = Transport::builder(TcpConnector::new())
        .seed(3)
        .listen("10.9.9.8:4500".parse::<SocketAddr>().unwrap().into(), never)
        .config(config)
        .build()
        .unwrap();

    assert_eq!(node.router().max_handler_tasks(), 7);
}

#[tokio::test]
async fn beyond_the_limit_callers_get_broken_promise_at_once_and_tasks_stay_bounded() {
    let (node, address) = local_node(2, ADDRESS);
    let router = node.router();
    router.set_max_handler_tasks(2);
    let gate = Arc::new(Semaphore::new(0));
    router.serve(SLOW, gated(gate.clone())).unwrap();
    let mut queued: RequestStream<Num, Num> = router.request_stream(QUEUED).unwrap();
    let mut slow = RpcClient::<Num, Num>::new(&node, Endpoint::new(address, SLOW));

    // Local delivery runs in `call`: each call has been dispatched when it
    // returns.
    let mut held = Vec::new();
    for value in 0..2 {
        held.push(slow.ready().await.unwrap().call(Num { value }));
    }
    assert_eq!(router.handler_tasks(), 2);

    for value in 2..12 {
        let refused = slow.ready().await.unwrap().call(Num { value });
        match refused.now_or_never() {
            Some(Err(RpcError::BrokenPromise { endpoint })) => assert_eq!(endpoint.token, SLOW),
            other => panic!("request {value}: expected BrokenPromise at once, got {other:?}"),
        }
    }
    assert_eq!(router.handler_tasks(), 2);
    assert_eq!(router.rejected_requests(), 10);

    // A request stream answers at once (it queues): never limited.
    let to_stream = RpcClient::<Num, Num>::new(&node, Endpoint::new(address, QUEUED));
    let streamed = tokio::spawn(to_stream.get_reply(Num { value: 7 }));
    let (request, reply) = within(queued.recv()).await.unwrap();
    reply.send(request);
    assert_eq!(within(streamed).await.unwrap().unwrap().value, 7);

    // The held two finish; their slots come back.
    gate.add_permits(2);
    for (value, call) in (0..).zip(held) {
        assert_eq!(within(call).await.unwrap().value, value);
    }
    within(async {
        while router.handler_tasks() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let again = tokio::spawn(slow.get_reply(Num { value: 99 }));
    gate.add_permits(1);
    assert_eq!(within(again).await.unwrap().unwrap().value, 99);
    assert_eq!(router.rejected_requests(), 10);
}

#[tokio::test]
async fn a_flood_over_tcp_gets_broken_promise_beyond_the_limit_and_the_rest_are_served() {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address: NetworkAddress = incoming.local_addr().unwrap().into();
    let server = Transport::builder(TcpConnector::new())
        .seed(3)
        .listen(address, incoming)
        .build()
        .unwrap();
    server.router().set_max_handler_tasks(4);
    let gate = Arc::new(Semaphore::new(0));
    server.router().serve(SLOW, gated(gate.clone())).unwrap();
    let client = Transport::builder(TcpConnector::new())
        .seed(4)
        .build()
        .unwrap();
    let rpc = RpcClient::<Num, Num>::new(&client, Endpoint::new(address, SLOW));

    let calls: Vec<_> = (0..40)
        .map(|value| tokio::spawn(rpc.get_reply(Num { value })))
        .collect();
    // Every call beyond the four that hold a task is refused while the
    // gate is still shut.
    within(async {
        while server.router().rejected_requests() < 36 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(server.router().handler_tasks(), 4);
    gate.add_permits(4);
    let (mut served, mut refused) = (0, 0);
    for call in calls {
        match within(call).await.unwrap() {
            Ok(_) => served += 1,
            Err(RpcError::BrokenPromise { .. }) => refused += 1,
            Err(other) => panic!("unexpected outcome {other}"),
        }
    }
    assert_eq!((served, refused), (4, 36));
    assert_eq!(server.router().rejected_requests(), 36);
}
