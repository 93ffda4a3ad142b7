//! The executor seam: every task the transport starts, the endpoint
//! router's included, is counted by shutdown and refused after it; and the
//! executor (user code) is never called with the transport's locks held.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_codec::{NetworkAddress, Packet, Uid};
use moonpool_tower::endpoint::IncomingPacket;
use moonpool_tower::executor::BoxFuture;
use moonpool_tower::peer::Outgoing;
use moonpool_tower::transport::Transport;
use peer_support::{MemoryNet, addr, eventually};

const WITHIN: Duration = Duration::from_secs(10);
const TOKEN: Uid = Uid::well_known(100);

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Registers at [`TOKEN`] a service whose calls never finish; counts the
/// calls started, and flags when a call's future is dropped.
fn register_endless_service(transport: &Transport) -> (Arc<AtomicUsize>, Arc<AtomicBool>) {
    let (started, dropped) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (count, flag) = (started.clone(), dropped.clone());
    let service = tower::service_fn(move |_: IncomingPacket| {
        count.fetch_add(1, Ordering::SeqCst);
        let guard = DropFlag(flag.clone());
        async move {
            let _guard = guard;
            std::future::pending::<Result<(), Infallible>>().await
        }
    });
    transport.router().register(TOKEN, service).unwrap();
    (started, dropped)
}

#[tokio::test(start_paused = true)]
async fn shutdown_drops_endpoint_calls_still_running_and_waits_for_them() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let server = Transport::builder(net.connector())
        .seed(1)
        .listen(NetworkAddress::from(address), net.listen(address))
        .build()
        .unwrap();
    let (started, dropped) = register_endless_service(&server);
    let client = net.client(2, Default::default());
    let mut peer = client.peer(address);
    peer.send(Outgoing::reliable(Packet::new(TOKEN, &b"hi"[..])))
        .await
        .unwrap();
    eventually(WITHIN, "the call started", || {
        started.load(Ordering::SeqCst) == 1
    })
    .await;
    tokio::task::yield_now().await;
    assert!(!dropped.load(Ordering::SeqCst), "running in its task");

    tokio::time::timeout(WITHIN, server.shutdown())
        .await
        .expect("shutdown does not wait for the call to finish on its own");
    assert!(
        dropped.load(Ordering::SeqCst),
        "dropped before shutdown returned"
    );
}

#[tokio::test(start_paused = true)]
async fn no_endpoint_task_starts_after_shutdown() {
    let spawned = Arc::new(AtomicUsize::new(0));
    let count = spawned.clone();
    let executor = move |task: BoxFuture| {
        count.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(task);
    };
    let server = Transport::builder(MemoryNet::default().connector())
        .seed(1)
        .executor(executor)
        .build()
        .unwrap();
    let (started, dropped) = register_endless_service(&server);
    server.shutdown().await;
    let before = spawned.load(Ordering::SeqCst);

    server
        .router()
        .deliver_local(Packet::new(TOKEN, &b"late"[..]));
    assert_eq!(started.load(Ordering::SeqCst), 1, "polled once in place");
    assert!(dropped.load(Ordering::SeqCst), "not left to run");
    assert_eq!(
        spawned.load(Ordering::SeqCst),
        before,
        "nothing reached the executor"
    );
}

#[test]
fn the_executor_is_never_called_with_the_peers_map_locked() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    let transport: Arc<Mutex<Option<Transport>>> = Arc::default();
    let inside = transport.clone();
    // Reads the peers map from inside the executor: with the map locked,
    // this would deadlock.
    let executor = move |task: BoxFuture| {
        if let Some(transport) = inside.lock().unwrap().as_ref() {
            let _ = transport.peer_addresses();
        }
        handle.spawn(task);
    };
    let (done, finished) = std::sync::mpsc::channel();
    let thread_transport = transport.clone();
    std::thread::spawn(move || {
        runtime.block_on(async {
            let built = Transport::builder(MemoryNet::default().connector())
                .seed(1)
                .executor(executor)
                .build()
                .unwrap();
            *thread_transport.lock().unwrap() = Some(built.clone());
            // A new peer starts its keeper through the executor.
            let peer = built.peer(addr("10.0.0.1:1").into());
            assert_eq!(built.peer_addresses(), vec![peer.address().unwrap()]);
        });
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(WITHIN)
        .expect("no deadlock: the executor ran outside the peers lock");
    // Breaks the cycle transport -> executor -> transport.
    transport.lock().unwrap().take();
}
