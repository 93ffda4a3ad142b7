//! Two nodes exchange typed pings and pongs.
//!
//! ```text
//! cargo run -p examples --example ping_pong            # real loopback TCP
//! cargo run -p examples --example ping_pong -- --sim   # simulation, many seeds
//! ```
//!
//! The server is an actor: a loop over a `RequestStream<Ping, Pong>`. The
//! client is an `RpcClient<Ping, Pong>`, a tower service. Over real TCP the
//! two nodes talk on loopback; with `--sim` the very same `serve` and
//! `play` functions run on simulated hosts under network faults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use moonpool_codec::{Endpoint, Uid};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{RpcClient, RpcError};
use moonpool_tower::transport::Transport;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tower::{Service, ServiceExt};

/// A ping: the client's sequence number.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ping {
    /// Sequence number, echoed in the pong.
    #[prost(uint64, tag = "1")]
    pub seq: u64,
}

/// A pong: the ping's sequence number.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Pong {
    /// The sequence number of the ping answered.
    #[prost(uint64, tag = "1")]
    pub seq: u64,
}

/// The well-known token of the ping endpoint (application indices start at
/// 64; below is moonpool's).
const PING_TOKEN: Uid = Uid::well_known(64);

/// Pings per run over real TCP.
const TCP_PINGS: u64 = 1000;

/// The server: answers every ping until the transport goes away.
async fn serve(transport: Transport) {
    let mut pings: RequestStream<Ping, Pong> = transport
        .router()
        .request_stream(PING_TOKEN)
        .expect("the ping token is free");
    while let Some((ping, reply)) = pings.recv().await {
        reply.send(Pong { seq: ping.seq });
    }
}

/// The client: `count` pings, one at a time; returns how many were answered.
async fn play(transport: &Transport, server: Endpoint, count: u64) -> Result<u64, RpcError> {
    let mut client = RpcClient::<Ping, Pong>::new(transport, server);
    for seq in 0..count {
        let pong = client.ready().await?.call(Ping { seq }).await?;
        assert_eq!(pong.seq, seq, "a pong answers its own ping");
    }
    Ok(count)
}

#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
async fn over_tcp() -> Result<(), Box<dyn std::error::Error>> {
    // Wall time for the summary only; it never feeds behaviour.
    let started = std::time::Instant::now();
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse()?).await?;
    let address = incoming.local_addr()?.into();
    let server = Transport::builder(TcpConnector::new(), StdRng::seed_from_u64(1))
        .listen(address, incoming)
        .build()?;
    tokio::spawn(serve(server.clone()));

    let client = Transport::builder(TcpConnector::new(), StdRng::seed_from_u64(2)).build()?;
    let answered = play(&client, Endpoint::new(address, PING_TOKEN), TCP_PINGS).await?;
    let elapsed = started.elapsed();
    println!(
        "ping_pong over loopback TCP: {answered}/{TCP_PINGS} pings answered in {:.1} ms ({:.1} µs per round trip)",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / answered as f64,
    );
    client.shutdown().await;
    server.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let sim = std::env::args().any(|arg| arg == "--sim");
    if sim {
        return simulation::run();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(over_tcp()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ping_pong failed: {error}");
            ExitCode::FAILURE
        }
    }
}

mod simulation {
    use std::process::ExitCode;

    pub(super) fn run() -> ExitCode {
        eprintln!("--sim: the simulator is not merged yet");
        ExitCode::FAILURE
    }
}
