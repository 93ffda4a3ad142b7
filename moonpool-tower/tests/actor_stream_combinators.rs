//! A `RequestStream` is a `futures` `Stream`: a server can be written with
//! `StreamExt` combinators instead of a `recv` loop. Over real TCP on
//! 127.0.0.1: `for_each_concurrent`, `buffer_unordered`, `then` +
//! `buffered`, and graceful shutdown with `take_until`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::ready;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::join_all;
use moonpool_codec::{Endpoint, NetworkAddress, Uid};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{RpcClient, RpcError};
use moonpool_tower::transport::Transport;
use tokio::sync::{mpsc, oneshot};

const SQUARE: Uid = Uid::new(0x5a, 0x1);
const REQUESTS: u64 = 24;
const CONCURRENCY: usize = 6;
/// How long each handler works: long enough for requests to overlap.
const WORK: Duration = Duration::from_millis(40);
const WITHIN: Duration = Duration::from_secs(10);

#[derive(Clone, PartialEq, prost::Message)]
struct Number {
    #[prost(uint64, tag = "1")]
    value: u64,
}

struct Rig {
    server: Transport,
    client: Transport,
    address: NetworkAddress,
}

impl Rig {
    async fn new() -> Self {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let address = NetworkAddress::from(incoming.local_addr().unwrap());
        let server = Transport::builder(TcpConnector::new())
            .seed(1)
            .listen(address, incoming)
            .build()
            .unwrap();
        let client = Transport::builder(TcpConnector::new())
            .seed(2)
            .build()
            .unwrap();
        Self {
            server,
            client,
            address,
        }
    }

    fn stream(&self) -> RequestStream<Number, Number> {
        self.server.router().request_stream(SQUARE).unwrap()
    }

    fn rpc(&self) -> RpcClient<Number, Number> {
        RpcClient::new(&self.client, Endpoint::new(self.address, SQUARE))
    }

    /// Calls `0..REQUESTS` at once; the answers in request order.
    async fn call_all(&self) -> Vec<u64> {
        let rpc = self.rpc();
        let calls = (0..REQUESTS).map(|value| {
            let rpc = rpc.clone();
            async move { rpc.get_reply(Number { value }).await.unwrap().value }
        });
        tokio::time::timeout(WITHIN, join_all(calls))
            .await
            .expect("every call answered in time")
    }
}

fn squares() -> Vec<u64> {
    (0..REQUESTS).map(|n| n * n).collect()
}

/// Counts handlers running at once and remembers the most.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl InFlight {
    async fn work(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(WORK).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn for_each_concurrent_answers_every_request_with_bounded_concurrency() {
    let rig = Rig::new().await;
    let in_flight = Arc::new(InFlight::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let counter = in_flight.clone();
    let server = tokio::spawn(rig.stream().take_until(stopped).for_each_concurrent(
        CONCURRENCY,
        move |(request, reply)| {
            let counter = counter.clone();
            async move {
                counter.work().await;
                reply.send(Number {
                    value: request.value * request.value,
                });
            }
        },
    ));

    assert_eq!(rig.call_all().await, squares());

    let most = in_flight.most.load(Ordering::SeqCst);
    assert!(
        (2..=CONCURRENCY).contains(&most),
        "{most} handlers ran at once"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(WITHIN, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn buffer_unordered_computes_replies_concurrently_and_sends_each_to_its_caller() {
    let rig = Rig::new().await;
    let in_flight = Arc::new(InFlight::default());
    let counter = in_flight.clone();
    let server = rig
        .stream()
        .map(move |(request, reply)| {
            let counter = counter.clone();
            async move {
                counter.work().await;
                (reply, request.value * request.value)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .for_each(|(reply, value)| {
            reply.send(Number { value });
            ready(())
        });
    let server = tokio::spawn(server);

    assert_eq!(rig.call_all().await, squares());

    assert!(in_flight.most.load(Ordering::SeqCst) >= 2);
    server.abort();
}

#[tokio::test]
async fn then_and_buffered_answer_in_arrival_order() {
    let rig = Rig::new().await;
    let (order, mut answered) = mpsc::unbounded_channel();
    let server = rig
        .stream()
        .map(|(request, reply)| async move {
            // Later requests finish sooner: `buffered` still yields in order.
            tokio::time::sleep(WORK / (1 + request.value as u32)).await;
            (reply, request.value)
        })
        .buffered(CONCURRENCY)
        .then(move |(reply, value)| {
            order.send(value).unwrap();
            reply.send(Number {
                value: value * value,
            });
            ready(())
        })
        .for_each(|()| ready(()));
    let server = tokio::spawn(server);

    // One call at a time to fix the arrival order, then a burst.
    let rpc = rig.rpc();
    assert_eq!(rpc.get_reply(Number { value: 3 }).await.unwrap().value, 9);
    assert_eq!(rig.call_all().await, squares());

    // The burst is sent on one connection in call order, so it arrives,
    // and `buffered` yields it, in that order.
    let mut yielded = Vec::new();
    while let Ok(value) = answered.try_recv() {
        yielded.push(value);
    }
    let arrival: Vec<u64> = std::iter::once(3).chain(0..REQUESTS).collect();
    assert_eq!(yielded, arrival);
    server.abort();
}

#[tokio::test]
async fn take_until_stops_serving_after_finishing_requests_in_flight() {
    let rig = Rig::new().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let (started, mut handler_started) = mpsc::unbounded_channel();
    let server = tokio::spawn(rig.stream().take_until(stopped).for_each_concurrent(
        CONCURRENCY,
        move |(request, reply)| {
            started.send(()).unwrap();
            async move {
                tokio::time::sleep(WORK).await;
                reply.send(Number {
                    value: request.value * request.value,
                });
            }
        },
    ));
    let rpc = rig.rpc();
    let in_flight = tokio::spawn({
        let rpc = rpc.clone();
        async move { rpc.get_reply(Number { value: 7 }).await }
    });
    handler_started.recv().await.unwrap();

    stop.send(()).unwrap();

    // The request already being handled is answered, then the loop ends
    // and drops the stream, which unregisters its token.
    let answer = tokio::time::timeout(WITHIN, in_flight).await.unwrap();
    assert_eq!(answer.unwrap().unwrap().value, 49);
    tokio::time::timeout(WITHIN, server).await.unwrap().unwrap();
    assert!(!rig.server.router().is_registered(SQUARE));
    assert!(matches!(
        rpc.get_reply(Number { value: 8 }).await,
        Err(RpcError::EndpointNotFound { .. })
    ));
}
