//! Stock hyper over the simulator: an HTTP/1.1 server (hyper's
//! `server::conn::http1`) and three clients (hyper-util's pooled `Client`)
//! on simulated hosts, under `FaultConfig::chaos_without_corruption()`,
//! with the server crashed and restarted mid-run, for many seeds.
//!
//! The only moonpool pieces are its public adapters (cargo feature `hyper`
//! of moonpool-sim-net): `SimHttpConnector` (the client's `Service<Uri>`
//! connector; it resolves the host name "web"), `HostHandle` as hyper's
//! executor, `SimTcpListener` and `spawn` for the accept loop. Every task
//! the server starts belongs to its host, so the crash ends all of them.
//!
//! Why not `FaultConfig::chaos()`: HTTP has no checksum, so a bit flip TCP
//! lets through reaches the application as a `200 OK` with a corrupted body.
//!
//! ```sh
//! cargo run --release --example hyper_sim
//! MOONPOOL_ITERATIONS=500 cargo run --release --example hyper_sim
//! MOONPOOL_SEED=7 cargo run --release --example hyper_sim   # replay one seed
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioIo;
use moonpool_sim_net::http::SimHttpConnector;
use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
use moonpool_sim_net::{
    BoxError, FaultConfig, HostHandle, SimTcpListener, always, sometimes, spawn,
};
use rand::RngExt;

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: hyper_sim

A hyper HTTP/1.1 server and three hyper-util clients on the simulator under
stock-protocol chaos, the server crashed and restarted once per seed; prints
the runner's report with its coverage table. MOONPOOL_* variables apply.";

const WEB: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENTS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 0, 1, 1),
    Ipv4Addr::new(10, 0, 1, 2),
    Ipv4Addr::new(10, 0, 1, 3),
];
const MONKEY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);
const SEEDS: u64 = 32;
/// Requests each client must see answered correctly.
const REQUESTS: u64 = 20;
/// A request not answered by then is given up and retried.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
const RETRY_DELAY: Duration = Duration::from_millis(200);
const REQUEST_GAP: Duration = Duration::from_millis(100);
const BUDGET: Duration = Duration::from_secs(600);
/// The header the server names its incarnation in.
const INCARNATION: &str = "x-incarnation";

/// The server: each connection served by hyper in a task of this host.
async fn web_server() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, 80)).await?;
    let incarnation = host.incarnation();
    loop {
        let (stream, _peer) = listener.accept().await?;
        spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| async move {
                let body = format!("hello {}", request.uri().path());
                Response::builder()
                    .header(INCARNATION, incarnation)
                    .body(Full::new(Bytes::from(body)))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A client: `REQUESTS` GETs to `http://web/...`, each retried until right.
async fn web_client() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let client = || Client::builder(host.clone()).build::<_, Full<Bytes>>(SimHttpConnector::new());
    let mut pool = client();
    for id in 0..REQUESTS {
        loop {
            let path = format!("/{}/{id}", host.name());
            let request = Request::get(format!("http://web{path}")).body(Full::default())?;
            let answer = tokio::time::timeout(CALL_TIMEOUT, async {
                let response = pool.request(request).await?;
                let status = response.status();
                let incarnation = response.headers().get(INCARNATION).cloned();
                let body = response.into_body().collect().await?.to_bytes();
                Ok::<_, BoxError>((status, incarnation, body))
            })
            .await;
            match answer {
                Ok(Ok((status, incarnation, body))) => {
                    always!(status == 200, "every answer is 200 OK");
                    always!(
                        body == format!("hello {path}"),
                        "every body is the right one"
                    );
                    sometimes!(
                        incarnation.is_some_and(|value| value != "0"),
                        "a restarted server answered"
                    );
                    tokio::time::sleep(REQUEST_GAP).await;
                    break;
                }
                Ok(Err(_)) => sometimes!(true, "a request failed and was retried"),
                Err(_) => sometimes!(true, "a request timed out and was retried"),
            }
            // A fresh pool: never reuse a connection that failed us.
            pool = client();
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }
    Ok(())
}

/// Crashes the server once mid-run and restarts it.
async fn crash_and_restart() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let mut rng = host.rng();
    tokio::time::sleep(Duration::from_millis(rng.random_range(100..1500))).await;
    host.sim().crash(WEB)?;
    tokio::time::sleep(Duration::from_millis(rng.random_range(50..2000))).await;
    host.sim().restart(WEB)?;
    Ok(())
}

fn simulation() -> SimulationBuilder {
    let mut builder = SimulationBuilder::new()
        .host("web", WEB, web_server)
        .workload("monkey", MONKEY, crash_and_restart)
        .faults(FaultConfig::chaos_without_corruption())
        .budget(BUDGET)
        .iterations(Iterations::Fixed(SEEDS))
        .replay_command("MOONPOOL_SEED={seed} cargo run --release --example hyper_sim");
    for (i, ip) in CLIENTS.into_iter().enumerate() {
        builder = builder.workload(&format!("client-{i}"), ip, web_client);
    }
    builder
}

fn main() -> ExitCode {
    if let Err(code) = cli::parse(USAGE, &[], false) {
        return code;
    }
    let report = match simulation().run_report() {
        Ok(report) => report,
        Err(error) => return cli::runner_exit("hyper_sim", &error),
    };
    print!("{report}");
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
