//! The server of the RPC workload.

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::invariants::publish;
use moonpool_sim_net::{HostHandle, SimTcpListener, buggify, sometimes};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::transport::Transport;
use rand::RngExt;
use rand::rngs::StdRng;
use tower::BoxError;

use super::{Answer, Call, Method, PORT, PROBE, ServerLog, address, host_executor, probe};

/// Longest delay of an `echo` answer, and of a buggified one.
const ECHO_DELAY_MS: u64 = 10;
const BUGGIFIED_DELAY_MS: u64 = 300;
/// Longest time `flaky` holds a call.
const FLAKY_HOLD_MS: u64 = 50;
/// One in this many `flaky` calls has its promise dropped.
const FLAKY_DROP_ONE_IN: u64 = 4;

/// A server host: serves the `probe` interface at `ip` until the runner's
/// shutdown signal.
pub async fn serve(ip: Ipv4Addr) -> Result<(), BoxError> {
    let transport = start_server(ip).await?;
    shutdown_signal().cancelled().await;
    drop(transport);
    Ok(())
}

/// What one server incarnation records and publishes.
#[derive(Clone)]
struct Recorder {
    ip: Ipv4Addr,
    key: String,
    log: Arc<Mutex<ServerLog>>,
    rng: Arc<Mutex<StdRng>>,
}

impl Recorder {
    fn update(&self, change: impl FnOnce(&mut ServerLog)) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut log);
        publish(self.ip, &self.key, log.clone());
    }

    fn below(&self, max: u64) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random_range(0..=max)
    }
}

/// Starts a listening transport at `ip` serving the `probe` interface
/// (`echo` and `flaky`; `missing` stays unregistered) and returns it: the
/// node serves as long as the transport lives.
pub async fn start_server(ip: Ipv4Addr) -> Result<Transport, BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let recorder = Recorder {
        ip,
        key: format!("{}{}", ServerLog::PREFIX, host.incarnation()),
        log: Arc::default(),
        rng: Arc::new(Mutex::new(host.rng())),
    };
    recorder.update(|_| {});
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    let transport = super::transport_builder()
        .rng(host.rng())
        .listen(address(ip), listener.into_stream())
        .executor(host_executor(host.clone()))
        .build()?;
    let echo_recorder = recorder.clone();
    let echo = tower::service_fn(move |call: Call| {
        echo_recorder.update(|log| {
            log.received.insert(call.id);
        });
        let delay = if buggify!() {
            BUGGIFIED_DELAY_MS
        } else {
            echo_recorder.below(ECHO_DELAY_MS)
        };
        async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            Ok::<_, Infallible>(Answer { id: call.id })
        }
    });
    probe::Services::new(transport.router(), PROBE).echo(echo)?;

    let mut flaky: RequestStream<Call, Answer> = transport
        .router()
        .request_stream(PROBE.adjusted(Method::Flaky.index()))?;
    drop(host.spawn(async move {
        while let Some((call, promise)) = flaky.recv().await {
            recorder.update(|log| {
                log.received.insert(call.id);
            });
            if recorder.below(FLAKY_DROP_ONE_IN - 1) == 0 {
                // Recorded before the drop sends BrokenPromise.
                recorder.update(|log| {
                    log.dropped.insert(call.id);
                });
                sometimes!(true, "a server dropped a promise");
                drop(promise);
                continue;
            }
            let hold = recorder.below(FLAKY_HOLD_MS);
            drop(moonpool_sim_net::spawn(async move {
                tokio::time::sleep(Duration::from_millis(hold)).await;
                promise.send(Answer { id: call.id });
            }));
        }
    }));
    Ok(transport)
}
