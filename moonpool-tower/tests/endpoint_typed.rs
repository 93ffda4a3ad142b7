//! Typed endpoints and the readiness of the service behind them: a service
//! that failed `poll_ready` is never called again, and a request waiting
//! for readiness is still answered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod node_support;

use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use moonpool_codec::{Endpoint, Uid};
use moonpool_tower::rpc::{ApplicationError, RpcClient, RpcError};
use node_support::{local_node, within};

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

/// Where the node claims to listen (it never accepts).
const ADDRESS: &str = "10.9.9.8:4500";
const TOKEN: Uid = Uid::new(0x7e5, 1);

/// A service whose first `poll_ready` (on any clone) fails; later ones
/// would succeed, which is exactly what a caller must not find out.
#[derive(Clone, Default)]
struct FailsReadinessOnce {
    polls: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl tower::Service<Num> for FailsReadinessOnce {
    type Response = Num;
    type Error = ApplicationError;
    type Future = Ready<Result<Num, ApplicationError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ApplicationError>> {
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            Poll::Ready(Err(ApplicationError::new(9, "backend gone")))
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn call(&mut self, request: Num) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        ready(Ok(request))
    }
}

#[tokio::test]
async fn a_service_that_failed_poll_ready_answers_every_later_request_with_that_error() {
    let (node, address) = local_node(1, ADDRESS);
    let service = FailsReadinessOnce::default();
    node.router().serve(TOKEN, service.clone()).unwrap();
    let rpc = RpcClient::<Num, Num>::new(&node, Endpoint::new(address, TOKEN));
    for value in 0..3 {
        match within(rpc.get_reply(Num { value })).await {
            Err(RpcError::Application(error)) => {
                assert_eq!(error, ApplicationError::new(9, "backend gone"));
            }
            other => panic!("request {value}: expected the readiness error, got {other:?}"),
        }
    }
    assert_eq!(service.polls.load(Ordering::SeqCst), 1, "polled again");
    assert_eq!(
        service.calls.load(Ordering::SeqCst),
        0,
        "called after failing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_waiting_for_readiness_is_served_once_the_service_is_ready() {
    let (node, address) = local_node(2, ADDRESS);
    // One request at a time: the second waits for the first's permit.
    let slow = tower::ServiceBuilder::new()
        .concurrency_limit(1)
        .service_fn(|n: Num| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, ApplicationError>(n)
        });
    node.router().serve(TOKEN, slow).unwrap();
    let rpc = RpcClient::<Num, Num>::new(&node, Endpoint::new(address, TOKEN));
    let first = tokio::spawn(rpc.get_reply(Num { value: 1 }));
    let second = tokio::spawn(rpc.get_reply(Num { value: 2 }));
    assert_eq!(within(first).await.unwrap().unwrap().value, 1);
    assert_eq!(within(second).await.unwrap().unwrap().value, 2);
}
