//! Stock hyper and tonic over the simulator through moonpool's public
//! adapters alone (cargo feature `tonic` of moonpool-sim-net): a hyper
//! HTTP/2 server and hyper-util's `Client`, a tonic gRPC server
//! (`serve_with_incoming`) and a tonic `Channel`, without faults and under
//! `FaultConfig::chaos_without_corruption()`, with both servers crashed and
//! restarted mid-flight; each seed deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioIo;
use moonpool_sim_net::http::SimHttpConnector;
use moonpool_sim_net::runner::{Iterations, SimulationBuilder, SimulationReport};
use moonpool_sim_net::{
    BoxError, FaultConfig, HostHandle, SimTcpListener, SimTcpListenerStream, always, sometimes,
    spawn,
};
use moonpool_tests::grpc::{self, EchoRequest, EchoServer};
use rand::RngExt;
use tonic::transport::{Endpoint, Server};

const WEB: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const GRPC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const WEB_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 11);
const GRPC_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 12);
const MONKEY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);
const GRPC_PORT: u16 = 50051;
/// Requests each client must see answered correctly.
const REQUESTS: u64 = 10;
/// A request not answered by then is given up and retried.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause before a retry.
const RETRY_DELAY: Duration = Duration::from_millis(200);
/// Pause between two requests of a client, so a run spans the crash.
const REQUEST_GAP: Duration = Duration::from_millis(100);
const BUDGET: Duration = Duration::from_secs(600);

/// hyper's HTTP/2 server; hyper spawns its stream tasks on the host.
async fn web_server() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, 80)).await?;
    loop {
        let (stream, _peer) = listener.accept().await?;
        let builder = http2::Builder::new(host.clone());
        spawn(async move {
            let service = service_fn(|request: Request<Incoming>| async move {
                let body = format!("echo {}", request.uri().path());
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// hyper-util's pooled client over `SimHttpConnector`, resolving "web".
async fn web_client() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let client = || {
        Client::builder(host.clone())
            .http2_only(true)
            .build::<_, Full<Bytes>>(SimHttpConnector::new())
    };
    let mut pool = client();
    for id in 0..REQUESTS {
        loop {
            let request = Request::get(format!("http://web/{id}")).body(Full::default())?;
            let answer = tokio::time::timeout(CALL_TIMEOUT, async {
                let response = pool.request(request).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                Ok::<_, BoxError>((status, body))
            })
            .await;
            if let Ok(Ok((status, body))) = answer {
                always!(status == 200, "hyper answers 200");
                always!(body == format!("echo /{id}"), "hyper echoes the path");
                tokio::time::sleep(REQUEST_GAP).await;
                break;
            }
            sometimes!(true, "a hyper request failed and was retried");
            // A fresh pool: never reuse a connection that failed us.
            pool = client();
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }
    Ok(())
}

/// tonic's server on the simulated listener; tonic spawns its connection
/// tasks with `tokio::spawn`.
async fn grpc_server() -> Result<(), BoxError> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, GRPC_PORT)).await?;
    Server::builder()
        .add_service(EchoServer)
        .serve_with_incoming(SimTcpListenerStream::new(listener))
        .await?;
    Ok(())
}

/// A tonic channel over `SimHttpConnector`, its tasks on the host.
async fn grpc_client() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let endpoint = Endpoint::from_shared(format!("http://grpc:{GRPC_PORT}"))?
        .executor(host.clone())
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CALL_TIMEOUT);
    let mut channel = endpoint.connect_with_connector_lazy(SimHttpConnector::new());
    for id in 0..REQUESTS {
        loop {
            let request = EchoRequest {
                id,
                payload: id.to_le_bytes().to_vec(),
            };
            let answer =
                tokio::time::timeout(CALL_TIMEOUT, grpc::call(channel.clone(), request)).await;
            if let Ok(Ok(reply)) = answer {
                always!(reply.id == id, "tonic answers the call it was asked");
                always!(
                    reply.payload == id.to_le_bytes(),
                    "tonic echoes the payload"
                );
                always!(
                    reply.caller == GRPC_CLIENT.to_string(),
                    "tonic sees the caller's address through Connected"
                );
                tokio::time::sleep(REQUEST_GAP).await;
                break;
            }
            sometimes!(true, "a tonic call failed and was retried");
            channel = endpoint.connect_with_connector_lazy(SimHttpConnector::new());
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }
    Ok(())
}

/// Crashes both servers once mid-flight and restarts them.
async fn crash_and_restart_servers() -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let mut rng = host.rng();
    tokio::time::sleep(Duration::from_millis(rng.random_range(50..800))).await;
    host.sim().crash(WEB)?;
    host.sim().crash(GRPC)?;
    tokio::time::sleep(Duration::from_millis(rng.random_range(50..1500))).await;
    host.sim().restart(WEB)?;
    host.sim().restart(GRPC)?;
    Ok(())
}

fn simulation(faults: FaultConfig, seeds: u64) -> SimulationBuilder {
    SimulationBuilder::new()
        .host("web", WEB, web_server)
        .host("grpc", GRPC, grpc_server)
        .workload("web-client", WEB_CLIENT, web_client)
        .workload("grpc-client", GRPC_CLIENT, grpc_client)
        .workload("monkey", MONKEY, crash_and_restart_servers)
        .faults(faults)
        .budget(BUDGET)
        .iterations(Iterations::Fixed(seeds))
        .check_determinism(true)
        .progress(false)
}

fn run(faults: FaultConfig, seeds: u64) -> SimulationReport {
    let report = simulation(faults, seeds).run().unwrap();
    println!("{report}");
    report.assert_passed();
    report
}

#[test]
fn hyper_and_tonic_answer_every_request_over_the_quiet_simulator() {
    run(FaultConfig::quiet(), 4);
}

#[test]
fn hyper_and_tonic_answer_every_request_under_stock_protocol_chaos() {
    run(FaultConfig::chaos_without_corruption(), 8);
}

#[test]
fn hyper_and_tonic_runs_repeat_their_trace_hashes_per_seed() {
    let first = run(FaultConfig::chaos_without_corruption(), 3);
    let second = run(FaultConfig::chaos_without_corruption(), 3);
    assert_eq!(first.trace_hashes, second.trace_hashes);
    assert_eq!(first.trace_hashes.len(), 3);
}
