//! Stock tonic over the simulator: two gRPC servers and their clients on
//! simulated hosts, under `FaultConfig::chaos_without_corruption()`, both
//! servers crashed and restarted mid-run, for many seeds.
//!
//! The only moonpool pieces are its public adapters (cargo feature `tonic`
//! of moonpool-sim-net): `SimTcpListenerStream` for `serve_with_incoming`,
//! `Connected` for `SimTcpStream`, `SimHttpConnector` for
//! `Endpoint::connect_with_connector_lazy` (it resolves the host names),
//! and `HostHandle` as the channel's and hyper's executor.
//!
//! # What tonic's `tokio::spawn` means when a host crashes
//!
//! tonic's `Server` starts each connection, and hyper under it each HTTP/2
//! stream, with `tokio::spawn`. Those tasks belong to no simulated host:
//!
//! - a crash does not abort them: a handler in flight runs on to its end
//!   after its host died (the coverage line "stock: a handler ran on after
//!   its host crashed"); its sockets were reset, so its reply goes nowhere,
//!   but any side effect it has (a write to shared state, a call it makes)
//!   happens after the crash, which a real machine's crash forbids;
//! - inside them there is no host: `HostHandle::current()` is `None`, and
//!   `moonpool_sim_net::spawn` or `SimTcpStream::connect` from a handler
//!   fail ("stock: handlers run outside any host").
//!
//! What a user can do: serve each connection yourself, the "owned" server
//! below. Accept with `SimTcpListener`, and for each connection `spawn` a
//! task of the host that runs hyper-util's `auto::Builder::new(host)` (the
//! host as hyper's executor, so HTTP/2 stream tasks belong to it too) over
//! tonic's `Routes` (the same services `Server::add_service` takes). A crash
//! then aborts every handler ("owned: no handler outlives its host" holds in
//! every seed), and handlers run inside their host.
//!
//! Why not `FaultConfig::chaos()`: gRPC over HTTP/2 has no checksum, so a
//! bit flip TCP lets through can reach the application as a valid reply.
//!
//! ```sh
//! cargo run --release --example tonic_sim
//! MOONPOOL_ITERATIONS=500 cargo run --release --example tonic_sim
//! MOONPOOL_SEED=7 cargo run --release --example tonic_sim   # replay one seed
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use moonpool_sim_net::http::SimHttpConnector;
use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
use moonpool_sim_net::{
    BoxError, FaultConfig, HostHandle, SimTcpListener, SimTcpListenerStream, always, sometimes,
    spawn,
};
use rand::RngExt;
use tonic::service::Routes;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

#[path = "support/cli.rs"]
mod cli;
#[path = "support/echo_grpc.rs"]
mod echo_grpc;

use echo_grpc::{EchoReply, EchoRequest, EchoServer};

const USAGE: &str = "usage: tonic_sim

Two tonic gRPC servers (stock serve_with_incoming, and one whose connection
tasks belong to its host) and their clients on the simulator under
stock-protocol chaos, both servers crashed and restarted once per seed;
prints the runner's report with its coverage table. MOONPOOL_* variables apply.";

const STOCK: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OWNED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const STOCK_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const OWNED_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const MONKEY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);
const PORT: u16 = 50051;
const SEEDS: u64 = 32;
/// Calls each client must see answered correctly.
const CALLS: u64 = 20;
/// The time a handler works on a call, so that calls are in flight when
/// the servers crash.
const WORK: Duration = Duration::from_millis(100);
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
const RETRY_DELAY: Duration = Duration::from_millis(200);
const BUDGET: Duration = Duration::from_secs(600);

/// Which way a server runs its connection tasks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Serving {
    /// tonic's `serve_with_incoming`: `tokio::spawn`ed, outside the host.
    Stock,
    /// One host task per connection, the host as hyper's executor.
    Owned,
}

/// The `Echo` handler: works a while, then answers; records where it ran.
fn echo_service(
    host: HostHandle,
    serving: Serving,
) -> EchoServer<
    impl tower::Service<
        Request<EchoRequest>,
        Response = Response<EchoReply>,
        Error = Status,
        Future = impl Future<Output = Result<Response<EchoReply>, Status>> + Send,
    > + Clone
    + Send
    + 'static,
> {
    EchoServer::new(tower::service_fn(move |request: Request<EchoRequest>| {
        let host = host.clone();
        async move {
            let in_host = HostHandle::current().is_some();
            tokio::time::sleep(WORK).await;
            match serving {
                Serving::Stock => {
                    sometimes!(!in_host, "stock: handlers run outside any host");
                    sometimes!(
                        !host.is_alive(),
                        "stock: a handler ran on after its host crashed"
                    );
                }
                Serving::Owned => {
                    always!(in_host, "owned: handlers run inside their host");
                    always!(host.is_alive(), "owned: no handler outlives its host");
                }
            }
            Ok(Response::new(EchoReply {
                text: request.into_inner().text,
                incarnation: host.incarnation(),
            }))
        }
    }))
}

/// tonic's own server on the simulated listener.
async fn stock_server() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    Server::builder()
        .add_service(echo_service(host, Serving::Stock))
        .serve_with_incoming(SimTcpListenerStream::new(listener))
        .await?;
    Ok(())
}

/// The same routes, each connection served in a task of this host.
async fn owned_server() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let routes = Routes::new(echo_service(host.clone(), Serving::Owned));
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    loop {
        let (stream, _peer) = listener.accept().await?;
        let service = TowerToHyperService::new(routes.clone());
        let builder = auto::Builder::new(host.clone());
        spawn(async move {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A client: `CALLS` calls to `server`, each retried until answered.
async fn client(server: &'static str) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let endpoint = Endpoint::from_shared(format!("http://{server}:{PORT}"))?
        .executor(host.clone())
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CALL_TIMEOUT);
    let mut channel = endpoint.connect_with_connector_lazy(SimHttpConnector::new());
    for id in 0..CALLS {
        let text = format!("{} call {id}", host.name());
        loop {
            let request = EchoRequest { text: text.clone() };
            let answer =
                tokio::time::timeout(CALL_TIMEOUT, echo_grpc::call(channel.clone(), request)).await;
            match answer {
                Ok(Ok(reply)) => {
                    always!(reply.text == text, "every reply answers its call");
                    sometimes!(reply.incarnation > 0, "a restarted server answered");
                    break;
                }
                Ok(Err(_)) => sometimes!(true, "a call failed and was retried"),
                Err(_) => sometimes!(true, "a call timed out and was retried"),
            }
            // A fresh channel: never wait on a connection that failed us.
            channel = endpoint.connect_with_connector_lazy(SimHttpConnector::new());
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }
    Ok(())
}

/// Crashes both servers once mid-run and restarts them.
async fn crash_and_restart() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let mut rng = host.rng();
    tokio::time::sleep(Duration::from_millis(rng.random_range(100..1500))).await;
    host.sim().crash(STOCK)?;
    host.sim().crash(OWNED)?;
    tokio::time::sleep(Duration::from_millis(rng.random_range(50..2000))).await;
    host.sim().restart(STOCK)?;
    host.sim().restart(OWNED)?;
    Ok(())
}

fn simulation() -> SimulationBuilder {
    SimulationBuilder::new()
        .host("grpc-stock", STOCK, stock_server)
        .host("grpc-owned", OWNED, owned_server)
        .workload("stock-client", STOCK_CLIENT, || client("grpc-stock"))
        .workload("owned-client", OWNED_CLIENT, || client("grpc-owned"))
        .workload("monkey", MONKEY, crash_and_restart)
        .faults(FaultConfig::chaos_without_corruption())
        .budget(BUDGET)
        .iterations(Iterations::Fixed(SEEDS))
        .replay_command("MOONPOOL_SEED={seed} cargo run --release --example tonic_sim")
}

fn main() -> ExitCode {
    if let Err(code) = cli::parse(USAGE, &[], false) {
        return code;
    }
    let report = match simulation().run_report() {
        Ok(report) => report,
        Err(error) => return cli::runner_exit("tonic_sim", &error),
    };
    print!("{report}");
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
