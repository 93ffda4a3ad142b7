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
    let server = Transport::builder(TcpConnector::new())
        .listen(address, incoming)
        .build()?;
    tokio::spawn(serve(server.clone()));

    let client = Transport::builder(TcpConnector::new()).build()?;
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

/// The same `serve` and `play` on simulated hosts, for many seeds.
mod simulation {
    use std::net::Ipv4Addr;
    use std::process::ExitCode;
    use std::time::Duration;

    use moonpool_codec::{Endpoint, NetworkAddress};
    use moonpool_sim_net::assertions::shutdown_signal;
    use moonpool_sim_net::invariants::{Invariant, publish};
    use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
    use moonpool_sim_net::{FaultConfig, HostHandle, SimConnector, SimTcpListener, sometimes};
    use moonpool_tower::executor::BoxFuture;
    use moonpool_tower::transport::Transport;
    use rand::RngExt;
    use tower::BoxError;

    use super::{PING_TOKEN, play, serve};

    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const MONKEY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
    const PORT: u16 = 4500;
    /// Pings per seed, and seeds per run (`MOONPOOL_ITERATIONS` overrides).
    const PINGS: u64 = 50;
    const SEEDS: u64 = 64;

    /// Chaos: every fault family of the simulator on (latency spikes,
    /// clogs, partitions, random closes, bit flips, short reads and writes,
    /// connect failures, lost segments, clock drift), except random host
    /// crashes: the monkey crashes the server itself, once.
    fn faults() -> FaultConfig {
        let mut faults = FaultConfig::chaos();
        faults.attrition.enabled = false;
        faults
    }

    fn executor(host: HostHandle) -> impl Fn(BoxFuture) + Clone + Send + Sync + 'static {
        move |task: BoxFuture| drop(host.spawn(task))
    }

    fn server_address() -> NetworkAddress {
        NetworkAddress::new(SERVER.into(), PORT)
    }

    /// The server host: `serve`, until the runner says stop.
    async fn server() -> Result<(), BoxError> {
        let host = HostHandle::current().ok_or("not in a simulated host")?;
        let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
        let transport = Transport::builder(SimConnector::new())
            .rng(host.rng())
            .listen(server_address(), listener.into_stream())
            .executor(executor(host.clone()))
            .build()?;
        let shutdown = shutdown_signal();
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {}
            () = serve(transport) => {}
        }
        Ok(())
    }

    /// The client workload: `play`, then publish how many pongs came back.
    async fn client() -> Result<(), BoxError> {
        let host = HostHandle::current().ok_or("not in a simulated host")?;
        let transport = Transport::builder(SimConnector::new())
            .rng(host.rng())
            .executor(executor(host.clone()))
            .build()?;
        let answered = play(
            &transport,
            Endpoint::new(server_address(), PING_TOKEN),
            PINGS,
        )
        .await?;
        publish(CLIENT, "answered", answered);
        transport.shutdown().await;
        Ok(())
    }

    /// Crashes the server once, mid-game, and restarts it: reliable pings
    /// are resent to the new incarnation.
    async fn monkey() -> Result<(), BoxError> {
        let host = HostHandle::current().ok_or("not in a simulated host")?;
        let mut rng = host.rng();
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..500))).await;
        host.sim().crash(SERVER)?;
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..1000))).await;
        host.sim().restart(SERVER)?;
        sometimes!(true, "the server restarted");
        Ok(())
    }

    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    pub(super) fn run() -> ExitCode {
        // Wall time for the summary only; it never feeds the simulation.
        let started = std::time::Instant::now();
        let report = SimulationBuilder::new()
            .faults(faults())
            .host("server", SERVER, server)
            .workload("client", CLIENT, client)
            .workload("monkey", MONKEY, monkey)
            .invariant(Invariant::new(
                "every ping was answered",
                |state| match state.get::<u64>(CLIENT, "answered") {
                    Some(&PINGS) => Ok(()),
                    other => Err(format!("answered: {other:?} of {PINGS}")),
                },
            ))
            .iterations(Iterations::Fixed(SEEDS))
            .progress(false)
            .run_report();
        let report = match report {
            Ok(report) => report,
            Err(error) => {
                eprintln!("ping_pong --sim: {error}");
                return ExitCode::FAILURE;
            }
        };
        print!("{report}");
        println!(
            "ping_pong --sim: {} seeds x {PINGS} pings under chaos, across a server crash and restart; {:.1} simulated seconds in {:.2} wall seconds: {}",
            report.iterations,
            report.sim_seconds,
            started.elapsed().as_secs_f64(),
            if report.passed() {
                "all answered"
            } else {
                "FAILED"
            },
        );
        if report.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
