//! The attackers of the adversarial suite, the node they attack, and the
//! well-behaved client whose first call measures what the attack costs.
//! Loopback (127.0.0.1) only; every attack is bounded in connections
//! (capped by the open-file limit) and in time.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use bytes::{BufMut, BytesMut};
use moonpool_codec::{Endpoint, Packet, PacketCodec, ProstCodec, Uid};
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::peer::{HANDSHAKE_TOKEN, PROTOCOL_VERSION};
use moonpool_tower::rpc::envelope::encode_request;
use moonpool_tower::rpc::{RpcClient, RpcError};
use moonpool_tower::transport::{Transport, TransportConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;

/// The echo endpoint of the attacked node.
pub const ECHO: Uid = Uid::new(0xA77A, 1);

/// How long the echo endpoint usually takes to answer: long enough that
/// requests hold handler tasks (the place a flood competes for).
pub const ECHO_DELAY: Duration = Duration::from_millis(20);

/// How long anything may take before the suite fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(20);

/// The bound the issue sets on a new client's first call under attack.
pub const FIRST_CALL_BOUND: Duration = Duration::from_secs(1);

/// A flood's requests per write.
pub const FLOOD_BATCH: u64 = 500;

/// The value a flood's requests carry: the echo endpoint holds them for
/// [`LIMIT`] (an expensive request: each holds a handler task as long as
/// the test runs), and answers any other at once after `delay`.
pub const HOLD: i64 = -1;

/// File descriptors kept for everything but attack connections (the
/// runtime, the node, the client, the test harness).
const FD_RESERVE: u64 = 256;

/// When the open-file limit cannot be read: the common default.
const ASSUMED_FD_LIMIT: u64 = 1024;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Num {
    #[prost(int64, tag = "1")]
    pub value: i64,
}

/// The soft open-file limit of this process (`ulimit -n`), if known.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// How many attack connections fit: `wanted`, capped so that both ends of
/// each (attacker and node are in this process) fit under the open-file
/// limit with [`FD_RESERVE`] to spare.
pub fn attack_budget(wanted: usize) -> usize {
    let limit = open_file_limit().unwrap_or(ASSUMED_FD_LIMIT);
    let fit = limit.saturating_sub(FD_RESERVE) / 2;
    wanted
        .min(usize::try_from(fit).unwrap_or(usize::MAX))
        .max(1)
}

/// The peak resident set of this process (`VmHWM`), in KiB, if known.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A listening node on a fresh loopback port serving [`ECHO`], which
/// answers after `delay`.
pub async fn target(config: TransportConfig, delay: Duration) -> (Transport, SocketAddr) {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = incoming.local_addr().unwrap();
    let transport = Transport::builder(TcpConnector::new())
        .seed(1)
        .config(config)
        .listen(address.into(), incoming)
        .build()
        .unwrap();
    let echo = tower::service_fn(move |n: Num| async move {
        tokio::time::sleep(if n.value == HOLD { LIMIT } else { delay }).await;
        Ok::<_, Infallible>(n)
    });
    transport.router().serve(ECHO, echo).unwrap();
    (transport, address)
}

/// A new well-behaved client's first call to the node at `address`: how
/// long it took and how it ended (a timeout after [`LIMIT`] is a failure).
pub async fn first_call(address: SocketAddr, seed: u64) -> (Duration, Result<Num, RpcError>) {
    let client = Transport::builder(TcpConnector::new())
        .seed(seed)
        .build()
        .unwrap();
    let rpc = RpcClient::<Num, Num>::new(&client, Endpoint::new(address.into(), ECHO));
    let started = Instant::now();
    let result = tokio::time::timeout(LIMIT, rpc.get_reply(Num { value: 7 }))
        .await
        .expect("the first call did not resolve in time");
    let took = started.elapsed();
    client.shutdown().await;
    (took, result)
}

/// The bytes of a frame: `packet`, encoded.
pub fn frame(packet: Packet) -> BytesMut {
    let mut bytes = BytesMut::new();
    PacketCodec::new().encode(packet, &mut bytes).unwrap();
    bytes
}

/// A valid handshake frame of an anonymous client.
pub fn handshake() -> BytesMut {
    let mut payload = BytesMut::with_capacity(40);
    payload.put_u64_le(PROTOCOL_VERSION);
    payload.put_u64_le(0xBAD);
    payload.put_bytes(0, 24); // no address: family 0, port, flags, ip
    frame(Packet::new(HANDSHAKE_TOKEN, payload.freeze()))
}

/// A request frame to `token` carrying [`HOLD`], reply token number `n`.
pub fn request(token: Uid, n: u64) -> BytesMut {
    let reply = Uid::new(0xF100D, n);
    let payload = encode_request(reply, &ProstCodec::new(), &Num { value: HOLD }).unwrap();
    frame(Packet::new(token, payload))
}

/// Connects and writes `bytes`; `None` if the connection could not be made
/// or written (the node closed it first, or the OS refused).
pub async fn send_and_hold(address: SocketAddr, bytes: &[u8]) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream.write_all(bytes).await.ok()?;
    Some(stream)
}

/// Whether the node closes `stream` (end of stream or reset) within
/// [`LIMIT`], reading and discarding whatever it sends first.
pub async fn closed_by_node(mut stream: TcpStream) -> bool {
    let drain = async {
        let mut buf = vec![0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(LIMIT, drain).await.is_ok()
}

/// An attack that keeps `connections` stalled handshakes open (each sends
/// the first bytes of a frame header, then nothing) and reopens each as
/// soon as the node closes it, on a thread and runtime of its own, until
/// dropped.
pub struct SustainedStall {
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Connections opened so far.
    pub opened: Arc<AtomicU64>,
}

impl SustainedStall {
    pub fn start(address: SocketAddr, connections: usize) -> Self {
        let stop = CancellationToken::new();
        let opened = Arc::new(AtomicU64::new(0));
        let (task_stop, task_opened) = (stop.clone(), opened.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..connections {
                    let (stop, opened) = (task_stop.clone(), task_opened.clone());
                    tasks.spawn(async move {
                        while !stop.is_cancelled() {
                            let attempt = async {
                                match send_and_hold(address, &handshake()[..10]).await {
                                    Some(stream) => {
                                        opened.fetch_add(1, Ordering::Relaxed);
                                        closed_by_node(stream).await;
                                    }
                                    // Out of ports or files: back off a little.
                                    None => tokio::time::sleep(Duration::from_millis(10)).await,
                                }
                            };
                            tokio::select! {
                                biased;
                                () = stop.cancelled() => break,
                                () = attempt => {}
                            }
                        }
                    });
                }
                while tasks.join_next().await.is_some() {}
            });
        });
        Self {
            stop,
            thread: Some(thread),
            opened,
        }
    }
}

impl Drop for SustainedStall {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A client that sends `requests` valid requests to [`ECHO`] (each
/// carrying [`HOLD`]) as fast as the node reads them, and never reads a
/// byte (its replies, its pongs): when
/// the node gives up on a connection, it opens another. Its connections
/// stay open (unread) until [`SlowReadingFlood::finish`]. On a thread and
/// runtime of its own.
pub struct SlowReadingFlood {
    stop: CancellationToken,
    /// Requests written so far.
    pub written: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl SlowReadingFlood {
    pub fn start(address: SocketAddr, requests: u64) -> Self {
        const BATCH: u64 = FLOOD_BATCH;
        let stop = CancellationToken::new();
        let written = Arc::new(AtomicU64::new(0));
        let (thread_stop, progress) = (stop.clone(), written.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut held = Vec::new();
                let flood = async {
                    let mut sent = 0;
                    while sent < requests {
                        let Some(mut stream) = send_and_hold(address, &handshake()).await else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        while sent < requests {
                            let mut batch = BytesMut::new();
                            for n in sent..(sent + BATCH).min(requests) {
                                batch.extend_from_slice(&request(ECHO, n));
                            }
                            if stream.write_all(&batch).await.is_err() {
                                break;
                            }
                            sent = (sent + BATCH).min(requests);
                            progress.store(sent, Ordering::Relaxed);
                        }
                        held.push(stream);
                    }
                    std::future::pending::<()>().await;
                };
                tokio::select! {
                    biased;
                    () = thread_stop.cancelled() => {}
                    () = flood => {}
                }
            });
        });
        Self {
            stop,
            written,
            thread,
        }
    }

    /// Stops the flood, closing its connections; returns the requests
    /// written.
    pub fn finish(self) -> u64 {
        self.stop.cancel();
        self.thread.join().unwrap();
        self.written.load(Ordering::Relaxed)
    }
}
