//! Specification of `Reconnect`: backoff between connects, a `poll_ready`
//! that never fails, and composition with tower's layers and real TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::{Future, Ready, poll_fn, ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use moonpool_tower::backoff::{BackoffConfig, Jitter, JitteredBackoff};
use moonpool_tower::reconnect::{NotConnected, Reconnect, ReconnectConfig, ReconnectLayer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::buffer::BufferLayer;
use tower::retry::backoff::{Backoff, MakeBackoff};
use tower::timeout::TimeoutLayer;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

/// tokio's timer fires on millisecond ticks: a sleep may end up to 1 ms late.
const TICK: Duration = Duration::from_millis(1);
const TARGET: &str = "server-1";

/// 100 ms, 200 ms, 400 ms, 800 ms, 1 s, 1 s, ...: exact, to assert on time.
fn doubling() -> JitteredBackoff {
    let config = BackoffConfig {
        initial: Duration::from_millis(100),
        factor: 2.0,
        cap: Duration::from_secs(1),
        jitter: Jitter::None,
    };
    JitteredBackoff::new(config, StdRng::seed_from_u64(0)).unwrap()
}

/// One connection handed out by the test dialer; `poll_ready` fails once
/// `broken` is set, and request 0 fails without breaking the connection.
struct Conn {
    id: usize,
    broken: Arc<AtomicBool>,
}

impl Service<u32> for Conn {
    type Response = (usize, u32);
    type Error = io::Error;
    type Future = Ready<Result<(usize, u32), io::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        if self.broken.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: u32) -> Self::Future {
        if request == 0 {
            return ready(Err(io::Error::other("request 0 is refused")));
        }
        ready(Ok((self.id, request)))
    }
}

/// Records every connect attempt; attempt `n` (from 0) fails when `fails(n)`.
struct World {
    fails: fn(usize) -> bool,
    attempts: Mutex<Vec<Instant>>,
    links: Mutex<Vec<Arc<AtomicBool>>>,
}

impl World {
    fn new(fails: fn(usize) -> bool) -> Arc<Self> {
        Arc::new(Self {
            fails,
            attempts: Mutex::new(Vec::new()),
            links: Mutex::new(Vec::new()),
        })
    }

    fn attempts(&self) -> Vec<Instant> {
        self.attempts.lock().unwrap().clone()
    }

    fn break_connection(&self, id: usize) {
        self.links.lock().unwrap()[id].store(true, Ordering::SeqCst);
    }
}

fn dialer(
    world: Arc<World>,
) -> impl Service<&'static str, Response = Conn, Error = io::Error, Future: Send> + Clone + Send + 'static
{
    service_fn(move |_target: &'static str| {
        let world = Arc::clone(&world);
        async move {
            let attempt = {
                let mut attempts = world.attempts.lock().unwrap();
                attempts.push(Instant::now());
                attempts.len() - 1
            };
            if (world.fails)(attempt) {
                return Err(io::ErrorKind::ConnectionRefused.into());
            }
            let mut links = world.links.lock().unwrap();
            links.resize_with(attempt + 1, Default::default);
            let broken = Arc::clone(&links[attempt]);
            Ok(Conn {
                id: attempt,
                broken,
            })
        }
    })
}

fn gaps(attempts: &[Instant]) -> Vec<Duration> {
    attempts.windows(2).map(|w| w[1] - w[0]).collect()
}

fn assert_close(actual: Duration, expected: Duration) {
    assert!(
        actual >= expected && actual <= expected + TICK,
        "{actual:?} is not {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn failed_connects_are_retried_after_the_backoff_delays() {
    let seed = 5;
    let world = World::new(|n| n < 3);
    let maker = JitteredBackoff::new(BackoffConfig::foundationdb(), StdRng::seed_from_u64(seed));
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, maker.unwrap());
    let mut twin = JitteredBackoff::new(BackoffConfig::foundationdb(), StdRng::seed_from_u64(seed))
        .unwrap()
        .make_backoff();

    let reply = client.ready().await.unwrap().call(7).await.unwrap();

    assert_eq!(reply, (3, 7));
    let gaps = gaps(&world.attempts());
    assert_eq!(gaps.len(), 3);
    for gap in gaps {
        assert_close(gap, twin.next_delay());
    }
}

#[tokio::test(start_paused = true)]
async fn poll_ready_stays_pending_and_keeps_retrying_while_the_target_is_down() {
    let world = World::new(|_| true);
    let maker = JitteredBackoff::new(BackoffConfig::foundationdb(), StdRng::seed_from_u64(1));
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, maker.unwrap());

    let outcome = tokio::time::timeout(Duration::from_secs(60), client.ready()).await;

    assert!(outcome.is_err(), "poll_ready must neither fail nor succeed");
    // 13 growing delays (~2.7 s) then one every 450..550 ms: 109..133 attempts.
    let attempts = world.attempts().len();
    assert!((105..=140).contains(&attempts), "{attempts} attempts");
    assert!(!client.is_connected());
}

#[tokio::test(start_paused = true)]
async fn a_broken_connection_is_replaced_by_a_new_one() {
    let world = World::new(|_| false);
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, doubling());
    assert_eq!(client.ready().await.unwrap().call(1).await.unwrap(), (0, 1));

    world.break_connection(0);
    let reply = client.ready().await.unwrap().call(2).await.unwrap();

    assert_eq!(reply, (1, 2));
    assert!(client.is_connected());
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_breaks_quickly_continues_the_backoff_schedule() {
    let world = World::new(|n| n < 2);
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, doubling());
    client.ready().await.unwrap().call(1).await.unwrap();

    world.break_connection(2);
    client.ready().await.unwrap().call(2).await.unwrap();

    // Failures 1 and 2 waited 100 and 200 ms; the short-lived connection
    // is failure 3 and waits 400 ms.
    let gaps = gaps(&world.attempts());
    let expected = [100, 200, 400].map(Duration::from_millis);
    assert_eq!(gaps.len(), 3);
    for (gap, expected) in gaps.into_iter().zip(expected) {
        assert_close(gap, expected);
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_healthy_for_reset_after_is_replaced_at_once_and_backoff_restarts() {
    let world = World::new(|n| n < 2 || n == 3);
    let config = ReconnectConfig {
        reset_after: Duration::from_secs(5),
    };
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, doubling()).with_config(config);
    client.ready().await.unwrap().call(1).await.unwrap();

    tokio::time::sleep(Duration::from_secs(5)).await;
    world.break_connection(2);
    let reply = client.ready().await.unwrap().call(2).await.unwrap();

    assert_eq!(reply, (4, 2));
    let gaps = gaps(&world.attempts());
    assert_eq!(gaps.len(), 4);
    assert_close(gaps[0], Duration::from_millis(100));
    assert_close(gaps[1], Duration::from_millis(200));
    assert_close(gaps[2], Duration::from_secs(5));
    // After the healthy connection, the schedule starts again at 100 ms.
    assert_close(gaps[3], Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn response_errors_are_boxed_and_do_not_cause_a_reconnect() {
    let world = World::new(|_| false);
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, doubling());

    let error = client.ready().await.unwrap().call(0).await.unwrap_err();
    let io_error = error.downcast_ref::<io::Error>().unwrap();
    assert_eq!(io_error.kind(), io::ErrorKind::Other);

    assert_eq!(client.ready().await.unwrap().call(3).await.unwrap(), (0, 3));
    assert_eq!(world.attempts().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn call_without_readiness_fails_with_not_connected_instead_of_panicking() {
    let world = World::new(|_| false);
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, doubling());

    let before_ready = client.call(1).await.unwrap_err();
    client.ready().await.unwrap();
    client.call(2).await.unwrap();
    let second_call = client.call(3).await.unwrap_err();

    assert!(before_ready.downcast_ref::<NotConnected>().is_some());
    assert!(second_call.downcast_ref::<NotConnected>().is_some());
}

/// A connector whose own `poll_ready` fails `failures` times.
struct FlakyConnector<D> {
    dialer: D,
    failures: usize,
}

impl<D: Service<&'static str, Error = io::Error>> Service<&'static str> for FlakyConnector<D> {
    type Response = D::Response;
    type Error = D::Error;
    type Future = D::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), D::Error>> {
        if self.failures > 0 {
            self.failures -= 1;
            return Poll::Ready(Err(io::Error::other("connector down")));
        }
        self.dialer.poll_ready(cx)
    }

    fn call(&mut self, target: &'static str) -> D::Future {
        self.dialer.call(target)
    }
}

#[tokio::test(start_paused = true)]
async fn connector_readiness_errors_are_backed_off_not_surfaced() {
    let world = World::new(|_| false);
    let connector = FlakyConnector {
        dialer: dialer(world.clone()),
        failures: 2,
    };
    let mut client = Reconnect::new(connector, TARGET, doubling());

    let start = Instant::now();
    client.ready().await.unwrap();

    assert_close(start.elapsed(), Duration::from_millis(300));
    assert_eq!(world.attempts().len(), 1);
}

/// A backoff that never waits: the worst case for busy looping.
#[derive(Clone)]
struct NoDelay;

impl MakeBackoff for NoDelay {
    type Backoff = NoDelay;
    fn make_backoff(&mut self) -> NoDelay {
        NoDelay
    }
}

impl Backoff for NoDelay {
    type Future = Ready<()>;
    fn next_backoff(&mut self) -> Ready<()> {
        ready(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_zero_backoff_starts_at_most_one_connect_per_poll() {
    let world = World::new(|_| true);
    let mut client = Reconnect::new(dialer(world.clone()), TARGET, NoDelay);
    let mut cx = Context::from_waker(Waker::noop());

    for polls in 1..=3 {
        let poll = Service::<u32>::poll_ready(&mut client, &mut cx);
        assert!(poll.is_pending());
        assert_eq!(world.attempts().len(), polls);
    }
}

#[tokio::test(start_paused = true)]
async fn works_behind_timeout_and_buffer_layers() {
    let world = World::new(|n| n < 2);
    let mut client = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_millis(250)))
        .layer(BufferLayer::new(8))
        .layer(ReconnectLayer::new(TARGET, doubling()))
        .service(dialer(world.clone()));

    // Connected only at 300 ms (100 + 200 ms of backoff): the first request
    // times out while waiting in the buffer, the next one is served.
    let first = client.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(first.is::<tower::timeout::error::Elapsed>(), "{first}");
    let start = Instant::now();
    let second = client.ready().await.unwrap().call(2).await.unwrap();

    assert_eq!(second, (2, 2));
    assert!(start.elapsed() <= Duration::from_millis(50) + TICK);
}

/// An echo client over one TCP stream: sends the bytes, reads them back.
#[derive(Clone)]
struct EchoClient(Arc<tokio::sync::Mutex<TcpStream>>);

impl Service<Vec<u8>> for EchoClient {
    type Response = Vec<u8>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Vec<u8>) -> Self::Future {
        let stream = Arc::clone(&self.0);
        Box::pin(async move {
            let mut stream = stream.lock().await;
            stream.write_all(&request).await?;
            let mut reply = vec![0; request.len()];
            stream.read_exact(&mut reply).await?;
            Ok(reply)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn reconnects_over_real_tcp_once_the_listener_appears() {
    // A free port with nothing listening yet: connects are refused.
    let addr: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let attempts = Arc::new(AtomicUsize::new(0));
    let third_refusal = Arc::new(Notify::new());
    let connector = {
        let (attempts, third_refusal) = (Arc::clone(&attempts), Arc::clone(&third_refusal));
        service_fn(move |addr: SocketAddr| {
            let (attempts, third_refusal) = (Arc::clone(&attempts), Arc::clone(&third_refusal));
            async move {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                let stream = TcpStream::connect(addr).await;
                if stream.is_err() && attempt == 3 {
                    third_refusal.notify_one();
                }
                Ok::<_, io::Error>(EchoClient(Arc::new(tokio::sync::Mutex::new(stream?))))
            }
        })
    };
    tokio::spawn(async move {
        third_refusal.notified().await;
        let listener = TcpListener::bind(addr).await.unwrap();
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    let seed = 12;
    let maker = JitteredBackoff::new(BackoffConfig::foundationdb(), StdRng::seed_from_u64(seed));
    let mut client = Reconnect::new(connector, addr, maker.unwrap());
    let mut twin = JitteredBackoff::new(BackoffConfig::foundationdb(), StdRng::seed_from_u64(seed))
        .unwrap()
        .make_backoff();

    let start = Instant::now();
    poll_fn(|cx| Service::<Vec<u8>>::poll_ready(&mut client, cx))
        .await
        .unwrap();
    let reply = client.call(b"ping".to_vec()).await.unwrap();

    assert_eq!(reply, b"ping");
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    let backoff: Duration = (0..3).map(|_| twin.next_delay()).sum();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= backoff && elapsed <= backoff + 3 * TICK,
        "{elapsed:?}"
    );
}
