//! RPC over loopback TCP against a raw tokio TCP echo, in the same run.
//!
//! ```sh
//! cargo bench -p moonpool-tower --bench rpc -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The request and the response are a protobuf message carrying 64 bytes.
//! The raw echo sends the same number of bytes the RPC puts on the wire for
//! a request (frame header, reply token, message) and reads them back.
//!
//! (a) one call in flight: round trip; (b) 64 calls in flight on one
//! connection: calls per second. After criterion's groups the benchmark
//! measures each pair again, alternating round by round so both see the same
//! machine load, and prints median and p99 round trips, throughput, and the
//! ratios.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Wall-clock measurement is the point of a benchmark; it never feeds
// behaviour.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use moonpool_codec::{Endpoint, NetworkAddress, Uid};
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::RpcClient;
use moonpool_tower::transport::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// 64 bytes of application data each way.
#[derive(Clone, PartialEq, prost::Message)]
struct Blob {
    #[prost(bytes = "bytes", tag = "1")]
    data: bytes::Bytes,
}

const ECHO: Uid = Uid::new(0xbe, 0xec0);
const IN_FLIGHT: usize = 64;
/// Frame header + reply token + protobuf (2-byte tag/length + 64 bytes).
const RAW_MESSAGE: usize = 24 + 16 + 2 + 64;
/// Calls per round of the closing comparison, and rounds per pair.
const LATENCY_CALLS: usize = 2_000;
const THROUGHPUT_CALLS: usize = 20_000;
const ROUNDS: usize = 5;

type Client = RpcClient<Blob, Blob>;

struct Rig {
    runtime: Runtime,
    rpc: Client,
    raw: TcpStream,
    raw_pipelined: (TcpStream, Arc<Semaphore>),
    _nodes: (Transport, Transport),
}

fn blob() -> Blob {
    Blob {
        data: bytes::Bytes::from(vec![7u8; 64]),
    }
}

async fn raw_echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

fn rig() -> Rig {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (rpc, raw, pipelined, nodes) = runtime.block_on(async {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let address: NetworkAddress = incoming.local_addr().unwrap().into();
        let server = Transport::builder(TcpConnector::new())
            .listen(address, incoming)
            .build()
            .unwrap();
        let echo = tower::service_fn(|blob: Blob| async move { Ok::<_, Infallible>(blob) });
        server.router().serve(ECHO, echo).unwrap();
        let client = Transport::builder(TcpConnector::new()).build().unwrap();
        let rpc = Client::new(&client, Endpoint::new(address, ECHO));
        rpc.get_reply(blob()).await.unwrap();

        let echo_address = raw_echo_server().await;
        let raw = TcpStream::connect(echo_address).await.unwrap();
        raw.set_nodelay(true).unwrap();
        let pipelined = TcpStream::connect(echo_address).await.unwrap();
        pipelined.set_nodelay(true).unwrap();
        (rpc, raw, pipelined, (server, client))
    });
    Rig {
        runtime,
        rpc,
        raw,
        raw_pipelined: (pipelined, Arc::new(Semaphore::new(IN_FLIGHT))),
        _nodes: nodes,
    }
}

/// `calls` sequential RPCs; the round trip of each.
async fn rpc_sequential(rpc: &mut Client, calls: usize, times: &mut Vec<Duration>) {
    let request = blob();
    for _ in 0..calls {
        let start = Instant::now();
        rpc.ready()
            .await
            .unwrap()
            .call(request.clone())
            .await
            .unwrap();
        times.push(start.elapsed());
    }
}

/// `calls` sequential raw echoes; the round trip of each.
async fn raw_sequential(stream: &mut TcpStream, calls: usize, times: &mut Vec<Duration>) {
    let out = [7u8; RAW_MESSAGE];
    let mut back = [0u8; RAW_MESSAGE];
    for _ in 0..calls {
        let start = Instant::now();
        stream.write_all(&out).await.unwrap();
        stream.read_exact(&mut back).await.unwrap();
        times.push(start.elapsed());
    }
}

/// `calls` RPCs with `IN_FLIGHT` outstanding at all times.
async fn rpc_pipelined(rpc: &mut Client, calls: usize) {
    let request = blob();
    let mut in_flight = FuturesUnordered::new();
    let mut sent = 0;
    while sent < calls.min(IN_FLIGHT) {
        in_flight.push(rpc.ready().await.unwrap().call(request.clone()));
        sent += 1;
    }
    while let Some(reply) = in_flight.next().await {
        reply.unwrap();
        if sent < calls {
            in_flight.push(rpc.ready().await.unwrap().call(request.clone()));
            sent += 1;
        }
    }
}

/// `calls` raw echoes with `IN_FLIGHT` outstanding at all times.
async fn raw_pipelined(stream: &mut TcpStream, window: &Arc<Semaphore>, calls: usize) {
    let (mut reader, mut writer) = stream.split();
    let writing = async {
        let out = [7u8; RAW_MESSAGE];
        for _ in 0..calls {
            window.acquire().await.unwrap().forget();
            writer.write_all(&out).await.unwrap();
        }
    };
    let reading = async {
        let mut back = [0u8; RAW_MESSAGE];
        for _ in 0..calls {
            reader.read_exact(&mut back).await.unwrap();
            window.add_permits(1);
        }
    };
    tokio::join!(writing, reading);
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort_unstable();
    let index = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[index]
}

fn criterion_groups(c: &mut Criterion, rig: &mut Rig) {
    let Rig {
        runtime,
        rpc,
        raw,
        raw_pipelined: (pipelined, window),
        ..
    } = rig;
    let mut group = c.benchmark_group("one_in_flight");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rpc", |b| {
        b.iter_custom(|iters| {
            let mut times = Vec::with_capacity(iters as usize);
            runtime.block_on(rpc_sequential(rpc, iters as usize, &mut times));
            times.iter().sum()
        })
    });
    group.bench_function("raw_tcp_echo", |b| {
        b.iter_custom(|iters| {
            let mut times = Vec::with_capacity(iters as usize);
            runtime.block_on(raw_sequential(raw, iters as usize, &mut times));
            times.iter().sum()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("64_in_flight");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rpc", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            runtime.block_on(rpc_pipelined(rpc, iters as usize));
            start.elapsed()
        })
    });
    group.bench_function("raw_tcp_echo", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            runtime.block_on(raw_pipelined(pipelined, window, iters as usize));
            start.elapsed()
        })
    });
    group.finish();
}

fn comparison(rig: &mut Rig) {
    let Rig {
        runtime,
        rpc,
        raw,
        raw_pipelined: (pipelined, window),
        ..
    } = rig;
    let (mut rpc_times, mut raw_times) = (Vec::new(), Vec::new());
    let (mut rpc_secs, mut raw_secs) = (0.0, 0.0);
    for _ in 0..ROUNDS {
        runtime.block_on(rpc_sequential(rpc, LATENCY_CALLS, &mut rpc_times));
        runtime.block_on(raw_sequential(raw, LATENCY_CALLS, &mut raw_times));
        let start = Instant::now();
        runtime.block_on(rpc_pipelined(rpc, THROUGHPUT_CALLS));
        rpc_secs += start.elapsed().as_secs_f64();
        let start = Instant::now();
        runtime.block_on(raw_pipelined(pipelined, window, THROUGHPUT_CALLS));
        raw_secs += start.elapsed().as_secs_f64();
    }
    let rpc_median = percentile(&mut rpc_times, 0.5);
    let rpc_p99 = percentile(&mut rpc_times, 0.99);
    let raw_median = percentile(&mut raw_times, 0.5);
    let raw_p99 = percentile(&mut raw_times, 0.99);
    let calls = (ROUNDS * THROUGHPUT_CALLS) as f64;
    let (rpc_rate, raw_rate) = (calls / rpc_secs, calls / raw_secs);
    println!();
    println!(
        "one call in flight (round trip, {} calls each):",
        ROUNDS * LATENCY_CALLS
    );
    println!(
        "  rpc      median {:>8.1} µs   p99 {:>8.1} µs",
        micros(rpc_median),
        micros(rpc_p99)
    );
    println!(
        "  raw echo median {:>8.1} µs   p99 {:>8.1} µs",
        micros(raw_median),
        micros(raw_p99)
    );
    println!(
        "  ratio    median {:>8.2}x   p99 {:>8.2}x   (target: median at most 1.5x)",
        micros(rpc_median) / micros(raw_median),
        micros(rpc_p99) / micros(raw_p99)
    );
    println!("{IN_FLIGHT} calls in flight on one connection:");
    println!("  rpc      {rpc_rate:>12.0} calls/s");
    println!("  raw echo {raw_rate:>12.0} echoes/s");
    println!(
        "  ratio    {:>12.2}x of the raw echo's rate",
        rpc_rate / raw_rate
    );
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn main() {
    let mut rig = rig();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_groups(&mut criterion, &mut rig);
    criterion.final_summary();
    comparison(&mut rig);
}
