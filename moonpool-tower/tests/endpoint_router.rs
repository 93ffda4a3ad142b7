//! The endpoint router: registration rules, request streams served from a
//! `select!` loop, and packets the router does not serve.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use moonpool_codec::{Endpoint, NetworkAddress, Packet, Uid, WellKnownToken};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::endpoint::RouterError;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::peer::Outgoing;
use moonpool_tower::rpc::{ApplicationError, RpcClient, RpcError};
use moonpool_tower::transport::{EndpointConfig, InboundChannel, Transport, TransportConfig};

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

const LIMIT: Duration = Duration::from_secs(10);

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("did not resolve in time")
}

async fn listening(seed: u64, inbound: Option<InboundChannel>) -> (Transport, NetworkAddress) {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address: NetworkAddress = incoming.local_addr().unwrap().into();
    let mut builder = Transport::builder(TcpConnector::new())
        .seed(seed)
        .listen(address, incoming);
    if let Some(inbound) = inbound {
        builder = builder.inbound(inbound);
    }
    (builder.build().unwrap(), address)
}

#[tokio::test]
async fn reserved_and_taken_tokens_are_refused() {
    let (node, _) = listening(1, None).await;
    let router = node.router();
    let echo = tower::service_fn(|n: Num| async move { Ok::<_, std::convert::Infallible>(n) });
    assert_eq!(
        router.serve(WellKnownToken::Ping.uid(), echo),
        Err(RouterError::ReservedToken {
            token: WellKnownToken::Ping.uid()
        })
    );
    router.serve(Uid::well_known(64), echo).unwrap();
    assert_eq!(
        router.serve(Uid::well_known(64), echo),
        Err(RouterError::TokenInUse {
            token: Uid::well_known(64)
        })
    );
    let token = router.new_token();
    assert!(!token.is_well_known() && !router.is_registered(token));
    assert!(router.unregister(Uid::well_known(64)));
    assert!(!router.unregister(Uid::well_known(64)));
}

#[tokio::test]
async fn a_select_loop_serves_the_methods_of_an_interface_in_arrival_order() {
    let (server, address) = listening(2, None).await;
    let base = Uid::new(0xabc, 0x100);
    let mut adds: RequestStream<Num, Num> =
        server.router().request_stream(base.adjusted(0)).unwrap();
    let mut negs: RequestStream<Num, Num> =
        server.router().request_stream(base.adjusted(1)).unwrap();
    let total = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = total.clone();
    tokio::spawn(async move {
        let mut sum = 0;
        loop {
            tokio::select! {
                biased;
                Some((n, reply)) = adds.recv() => {
                    sum += n.value;
                    log.lock().unwrap().push(n.value);
                    reply.send(Num { value: sum });
                }
                Some((n, reply)) = negs.recv() => {
                    if n.value == 0 {
                        reply.send_error(ApplicationError::new(7, "zero"));
                    } else {
                        reply.send(Num { value: -n.value });
                    }
                }
                else => break,
            }
        }
    });
    let client = Transport::builder(TcpConnector::new())
        .seed(3)
        .build()
        .unwrap();
    let add = RpcClient::<Num, Num>::new(&client, Endpoint::new(address, base).adjusted(0));
    let neg = RpcClient::<Num, Num>::new(&client, Endpoint::new(address, base).adjusted(1));
    // Pipelined on one connection: the stream sees them in order.
    let calls: Vec<_> = (1..=20).map(|value| add.get_reply(Num { value })).collect();
    let mut sums = Vec::new();
    for call in calls {
        sums.push(within(call).await.unwrap().value);
    }
    let expected: Vec<i64> = (1..=20).map(|n| n * (n + 1) / 2).collect();
    assert_eq!(sums, expected);
    assert_eq!(*total.lock().unwrap(), (1..=20).collect::<Vec<i64>>());
    assert_eq!(
        within(neg.get_reply(Num { value: 5 })).await.unwrap().value,
        -5
    );
    assert!(matches!(
        within(neg.get_reply(Num { value: 0 })).await,
        Err(RpcError::Application(ApplicationError { code: 7, .. }))
    ));
}

#[tokio::test]
async fn packets_the_router_does_not_serve_go_to_the_transport_inbound_handler() {
    let (handler, mut received) = InboundChannel::new(16);
    let (server, address) = listening(4, Some(handler)).await;
    let echo = tower::service_fn(|n: Num| async move { Ok::<_, std::convert::Infallible>(n) });
    server.router().serve(Uid::new(1, 1), echo).unwrap();
    let client = Transport::builder(TcpConnector::new())
        .seed(5)
        .build()
        .unwrap();
    let served = RpcClient::<Num, Num>::new(&client, Endpoint::new(address, Uid::new(1, 1)));
    assert_eq!(
        within(served.get_reply(Num { value: 3 }))
            .await
            .unwrap()
            .value,
        3
    );
    let mut peer = client.peer(address);
    peer.send(Outgoing::unreliable(Packet::new(
        Uid::new(2, 2),
        &b"raw"[..],
    )))
    .await
    .unwrap();
    let inbound = within(received.recv()).await.unwrap();
    assert_eq!(inbound.packet.token, Uid::new(2, 2));
    assert_eq!(&inbound.packet.payload[..], b"raw");
}

#[tokio::test]
async fn a_full_request_stream_answers_broken_promise_instead_of_growing() {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address: NetworkAddress = incoming.local_addr().unwrap().into();
    let config = TransportConfig {
        endpoint: EndpointConfig {
            request_stream_capacity: 2,
            ..EndpointConfig::default()
        },
        ..TransportConfig::default()
    };
    let server = Transport::builder(TcpConnector::new())
        .seed(11)
        .listen(address, incoming)
        .config(config)
        .build()
        .unwrap();
    let token = Uid::new(0xfee, 1);
    // A server loop that has fallen behind: nothing reads the stream yet.
    let mut requests: RequestStream<Num, Num> = server.router().request_stream(token).unwrap();
    let client = Transport::builder(TcpConnector::new())
        .seed(12)
        .build()
        .unwrap();
    let rpc = RpcClient::<Num, Num>::new(&client, Endpoint::new(address, token));

    let first = tokio::spawn(rpc.get_reply(Num { value: 1 }));
    let second = tokio::spawn(rpc.get_reply(Num { value: 2 }));
    within(async {
        while requests.len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // The third finds the queue full and is answered at once.
    assert!(matches!(
        within(rpc.get_reply(Num { value: 3 })).await,
        Err(RpcError::BrokenPromise { .. })
    ));
    assert_eq!(requests.len(), 2);

    // The queued two are still served in order once the loop catches up.
    for expected in [1, 2] {
        let (request, reply) = within(requests.recv()).await.unwrap();
        assert_eq!(request.value, expected);
        reply.send(Num {
            value: request.value * 10,
        });
    }
    assert_eq!(within(first).await.unwrap().unwrap().value, 10);
    assert_eq!(within(second).await.unwrap().unwrap().value, 20);
}
