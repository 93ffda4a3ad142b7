//! The client stack of a real service: timeout, retry (with a budget and
//! jittered backoff), concurrency limit and buffer, around an RPC client,
//! against a server that is slow, drops requests, or restarts.
//!
//! ```text
//! cargo run -p examples --example tower_layers
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moonpool_codec::{Endpoint, NetworkAddress, Uid};
use moonpool_tower::BackoffConfig;
use moonpool_tower::actor::RequestStream;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{RetryConfig, RpcClient, RpcRetryPolicy};
use moonpool_tower::transport::Transport;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

/// A read of a key: idempotent, so safe to retry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Read {
    /// The key.
    #[prost(uint64, tag = "1")]
    pub key: u64,
}

/// The value read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Data {
    /// The value.
    #[prost(uint64, tag = "1")]
    pub value: u64,
}

const READ: Uid = Uid::new(0x7e7e, 1);
const CALLS: u64 = 40;

/// How the server misbehaves.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Every third request takes longer than the client's timeout.
    Slow,
    /// Every other request is dropped unanswered (`BrokenPromise`).
    DropsPromises,
    /// The server goes away mid-run and comes back 300 ms later.
    Restarts,
}

async fn start_server(
    address: NetworkAddress,
    how: Misbehaviour,
    seen: Arc<AtomicU64>,
) -> Result<Transport, BoxError> {
    let incoming = TcpIncoming::bind(address.socket_addr()).await?;
    let transport = Transport::builder(TcpConnector::new())
        .listen(address, incoming)
        .build()?;
    let mut reads: RequestStream<Read, Data> = transport.router().request_stream(READ)?;
    tokio::spawn(async move {
        while let Some((read, reply)) = reads.recv().await {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            match how {
                Misbehaviour::Slow if n.is_multiple_of(3) => {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                        reply.send(Data {
                            value: read.key * 10,
                        });
                    });
                }
                Misbehaviour::DropsPromises if n.is_multiple_of(2) => drop(reply),
                _ => reply.send(Data {
                    value: read.key * 10,
                }),
            }
        }
    });
    Ok(transport)
}

async fn scenario(how: Misbehaviour, seed: u64) -> Result<(), BoxError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let address: NetworkAddress = port.into();
    let seen = Arc::new(AtomicU64::new(0));
    let mut server = start_server(address, how, seen.clone()).await?;

    let client = Transport::builder(TcpConnector::new()).build()?;
    let rpc = RpcClient::<Read, Data>::new(&client, Endpoint::new(address, READ)).unreliable();
    let retry = RetryConfig {
        max_retries: 8,
        backoff: BackoffConfig {
            initial: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            ..BackoffConfig::full_jitter()
        },
        ..RetryConfig::default()
    };
    let policy = RpcRetryPolicy::new(retry, StdRng::seed_from_u64(seed))?.idempotent(true);
    let stack = ServiceBuilder::new()
        .buffer(64)
        .concurrency_limit(8)
        .retry(policy)
        .timeout(Duration::from_millis(200))
        .service(rpc);

    let calls: Vec<_> = (0..CALLS)
        .map(|key| {
            let mut stack = stack.clone();
            tokio::spawn(async move {
                // Spread the calls over ~400 ms, across the restart.
                tokio::time::sleep(Duration::from_millis(key * 10)).await;
                stack.ready().await?.call(Read { key }).await
            })
        })
        .collect();
    if let Misbehaviour::Restarts = how {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.shutdown().await;
        println!("  server down");
        tokio::time::sleep(Duration::from_millis(300)).await;
        server = start_server(address, how, seen.clone()).await?;
        println!("  server back");
    }
    let mut answered = 0;
    for (key, call) in calls.into_iter().enumerate() {
        match call.await? {
            Ok(data) if data.value == key as u64 * 10 => answered += 1,
            Ok(data) => return Err(format!("wrong value {} for key {key}", data.value).into()),
            Err(error) => println!("  key {key}: gave up: {error}"),
        }
    }
    println!(
        "{how:?}: {answered}/{CALLS} calls answered; the server saw {} requests (retries included)",
        seen.load(Ordering::SeqCst)
    );
    client.shutdown().await;
    server.shutdown().await;
    if answered == CALLS {
        Ok(())
    } else {
        Err(format!("{how:?}: {} calls failed", CALLS - answered).into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    scenario(Misbehaviour::Slow, 10).await?;
    scenario(Misbehaviour::DropsPromises, 20).await?;
    scenario(Misbehaviour::Restarts, 30).await?;
    Ok(())
}
