//! The RPC client inside tower's own middleware, over real loopback TCP:
//! Timeout, Retry (with RpcRetryPolicy), ConcurrencyLimit, LoadShed, Buffer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use moonpool_codec::{Endpoint, NetworkAddress, Uid};
use moonpool_tower::BackoffConfig;
use moonpool_tower::actor::RequestStream;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{RetryConfig, RpcClient, RpcError, RpcRetryPolicy};
use moonpool_tower::transport::Transport;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

#[derive(Clone, PartialEq, prost::Message)]
struct Ping {
    #[prost(uint64, tag = "1")]
    seq: u64,
}

const PING: Uid = Uid::new(0xc0, 1);
const LIMIT: Duration = Duration::from_secs(10);

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("did not resolve in time")
}

async fn pair(seed: u64) -> (Transport, Transport, Endpoint) {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address: NetworkAddress = incoming.local_addr().unwrap().into();
    let server = Transport::builder(TcpConnector::new())
        .seed(seed)
        .listen(address, incoming)
        .build()
        .unwrap();
    let client = Transport::builder(TcpConnector::new())
        .seed(seed + 1)
        .build()
        .unwrap();
    (server, client, Endpoint::new(address, PING))
}

fn fast_retries(max_retries: u32) -> RetryConfig {
    RetryConfig {
        max_retries,
        backoff: BackoffConfig {
            initial: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            ..BackoffConfig::full_jitter()
        },
        ..RetryConfig::default()
    }
}

#[tokio::test]
async fn timeout_bounds_a_call_the_server_never_answers_and_cancels_it() {
    let (server, client, endpoint) = pair(1).await;
    let mut held: RequestStream<Ping, Ping> = server.router().request_stream(PING).unwrap();
    let service = ServiceBuilder::new()
        .timeout(Duration::from_millis(100))
        .service(RpcClient::<Ping, Ping>::new(&client, endpoint));
    let result = within(service.oneshot(Ping { seq: 1 })).await;
    let error = result.expect_err("the server never answers");
    assert!(error.is::<tower::timeout::error::Elapsed>(), "{error}");
    assert_eq!(client.router().pending_replies(), 0);
    let (_, promise) = held.recv().await.unwrap();
    drop(promise);
}

#[tokio::test]
async fn retry_resends_endpoint_not_found_until_the_endpoint_is_registered() {
    let (server, client, endpoint) = pair(3).await;
    let router = server.router().clone();
    let not_found = Arc::new(AtomicUsize::new(0));
    let counted = not_found.clone();
    let policy = RpcRetryPolicy::new(fast_retries(5), StdRng::seed_from_u64(9)).unwrap();
    let service = ServiceBuilder::new()
        .retry(policy)
        // Between the retries and the client: once the first attempt has
        // met EndpointNotFound, the server registers the endpoint.
        .map_result(move |result: Result<Ping, RpcError>| {
            if matches!(result, Err(RpcError::EndpointNotFound { .. }))
                && counted.fetch_add(1, Ordering::SeqCst) == 0
            {
                let echo = tower::service_fn(|ping: Ping| async move { Ok::<_, Infallible>(ping) });
                router.serve(PING, echo).unwrap();
            }
            result
        })
        .service(RpcClient::<Ping, Ping>::new(&client, endpoint));
    let pong = within(service.oneshot(Ping { seq: 1 })).await.unwrap();
    assert_eq!(pong.seq, 1);
    assert_eq!(not_found.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn maybe_executed_failures_are_retried_only_for_idempotent_requests() {
    for (idempotent, expected_attempts) in [(false, 1), (true, 4)] {
        let (server, client, endpoint) = pair(5).await;
        let mut requests: RequestStream<Ping, Ping> = server.router().request_stream(PING).unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let counted = seen.clone();
        // The server drops every promise: BrokenPromise.
        tokio::spawn(async move {
            while let Some((_, promise)) = requests.recv().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(promise);
            }
        });
        let policy = RpcRetryPolicy::new(fast_retries(3), StdRng::seed_from_u64(6))
            .unwrap()
            .idempotent(idempotent);
        let service = ServiceBuilder::new()
            .retry(policy)
            .service(RpcClient::<Ping, Ping>::new(&client, endpoint));
        let result = within(service.oneshot(Ping { seq: 1 })).await;
        assert!(
            matches!(result, Err(RpcError::BrokenPromise { .. })),
            "{result:?}"
        );
        assert_eq!(
            seen.load(Ordering::SeqCst),
            expected_attempts,
            "idempotent: {idempotent}"
        );
    }
}

#[tokio::test]
async fn an_empty_retry_budget_stops_retries() {
    let (_server, client, endpoint) = pair(7).await;
    let config = RetryConfig {
        budget_min_per_sec: 0,
        budget_retry_percent: 0.0,
        ..fast_retries(5)
    };
    let policy = RpcRetryPolicy::new(config, StdRng::seed_from_u64(8)).unwrap();
    let service = ServiceBuilder::new()
        .retry(policy)
        .service(RpcClient::<Ping, Ping>::new(&client, endpoint));
    // EndpointNotFound is retry-safe, but the budget has nothing to give.
    let result = within(service.oneshot(Ping { seq: 1 })).await;
    assert!(
        matches!(result, Err(RpcError::EndpointNotFound { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn buffer_and_concurrency_limit_share_one_client_across_tasks() {
    let (server, client, endpoint) = pair(9).await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, peak) = (in_flight.clone(), most.clone());
    let slow = tower::service_fn(move |ping: Ping| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Infallible>(ping)
        }
    });
    server.router().serve(PING, slow).unwrap();
    let service = ServiceBuilder::new()
        .buffer(32)
        .concurrency_limit(3)
        .service(RpcClient::<Ping, Ping>::new(&client, endpoint));
    let calls: Vec<_> = (0..24)
        .map(|seq| tokio::spawn(service.clone().oneshot(Ping { seq })))
        .collect();
    for (seq, call) in calls.into_iter().enumerate() {
        let pong = within(call).await.unwrap().unwrap();
        assert_eq!(pong.seq, seq as u64);
    }
    let peak = most.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&peak),
        "at most 3 calls in flight, saw {peak}"
    );
}

#[tokio::test]
async fn load_shed_refuses_calls_beyond_the_concurrency_limit() {
    let (server, client, endpoint) = pair(11).await;
    let mut held: RequestStream<Ping, Ping> = server.router().request_stream(PING).unwrap();
    let mut service = ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(1)
        .service(RpcClient::<Ping, Ping>::new(&client, endpoint));
    let first = service.ready().await.unwrap().call(Ping { seq: 1 });
    let second: Result<Ping, BoxError> = service.ready().await.unwrap().call(Ping { seq: 2 }).await;
    let error = second.expect_err("over the limit");
    assert!(error.is::<tower::load_shed::error::Overloaded>(), "{error}");
    let (ping, promise) = within(held.recv()).await.unwrap();
    promise.send(ping);
    assert_eq!(within(first).await.unwrap().seq, 1);
}
