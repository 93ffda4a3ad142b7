//! The router never runs user code under its own lock: a registered
//! service's `Clone` and `Drop` may use the router again. Each router call
//! runs on a thread of its own with a deadline, so a regression fails
//! instead of hanging the suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod node_support;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use moonpool_codec::{Endpoint, Packet, Uid};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::endpoint::{EndpointRouter, IncomingPacket};
use moonpool_tower::rpc::RpcClient;
use node_support::local_node;
use tower::{Service, ServiceExt};

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

/// Where the node claims to listen (it never accepts).
const ADDRESS: &str = "10.9.9.9:4500";
const OWNER: Uid = Uid::new(0x0e1, 1);
const STREAM: Uid = Uid::new(0x0e1, 2);

/// Runs `work` on a thread of its own; panics if it has not returned after
/// a generous deadline (a deadlock on the router's lock).
fn returns<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} did not return: deadlock on the router's lock"))
}

/// A packet service that owns things whose `Drop` uses the router.
struct Owner<T> {
    owned: Arc<Mutex<Option<T>>>,
}

impl<T> Clone for Owner<T> {
    fn clone(&self) -> Self {
        Self {
            owned: self.owned.clone(),
        }
    }
}

impl<T> Service<IncomingPacket> for Owner<T> {
    type Response = ();
    type Error = Infallible;
    type Future = Ready<Result<(), Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _incoming: IncomingPacket) -> Self::Future {
        ready(Ok(()))
    }
}

#[tokio::test]
async fn unregistering_a_service_that_owns_router_handles_drops_them_without_deadlock() {
    let (node, address) = local_node(1, ADDRESS);
    let router = node.router().clone();
    // A request stream, one request taken from it (its promise replies
    // locally), and the caller's response future of that request.
    let mut stream: RequestStream<Num, Num> = router.request_stream(STREAM).unwrap();
    let rpc = RpcClient::<Num, Num>::new(&node, Endpoint::new(address, STREAM));
    let mut client = rpc.clone();
    let response = client.ready().await.unwrap().call(Num { value: 1 });
    let (_request, promise) = stream.try_recv().unwrap();
    assert_eq!(router.pending_replies(), 1);
    // The registered service holds the last reference to all three; the
    // stream's drop unregisters its token, the promise's answers locally,
    // the future's closes its pending call: each locks the router.
    let owner = Owner {
        owned: Arc::new(Mutex::new(Some((stream, promise, response)))),
    };
    router.register(OWNER, owner).unwrap();

    let unregistering = router.clone();
    assert!(returns("unregister", move || unregistering.unregister(OWNER)));

    // Their drops did their work: the stream's token is free, the promise
    // answered, the call is over.
    assert!(!router.is_registered(STREAM));
    assert_eq!(router.pending_replies(), 0);
}

/// A packet service whose `Clone` asks the router something.
struct AsksTheRouterWhenCloned {
    router: EndpointRouter,
    clones: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

impl Clone for AsksTheRouterWhenCloned {
    fn clone(&self) -> Self {
        assert!(self.router.is_registered(OWNER));
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self {
            router: self.router.clone(),
            clones: self.clones.clone(),
            served: self.served.clone(),
        }
    }
}

impl Service<IncomingPacket> for AsksTheRouterWhenCloned {
    type Response = ();
    type Error = Infallible;
    type Future = Ready<Result<(), Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _incoming: IncomingPacket) -> Self::Future {
        self.served.fetch_add(1, Ordering::SeqCst);
        ready(Ok(()))
    }
}

#[tokio::test]
async fn a_service_whose_clone_uses_the_router_is_routed_to_without_deadlock() {
    let (node, _) = local_node(3, ADDRESS);
    let router = node.router().clone();
    let clones = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let service = AsksTheRouterWhenCloned {
        router: router.clone(),
        clones: clones.clone(),
        served: served.clone(),
    };
    router.register(OWNER, service).unwrap();

    let delivering = router.clone();
    returns("deliver", move || {
        delivering.deliver_local(Packet::new(OWNER, &b"hello"[..]));
    });
    assert_eq!(served.load(Ordering::SeqCst), 1);
    assert!(clones.load(Ordering::SeqCst) >= 1);
    // The service holds a router handle: unregister to end the cycle.
    assert!(router.unregister(OWNER));
}
