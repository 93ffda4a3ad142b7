//! A client behind tower's whole stack — Buffer, ConcurrencyLimit, Retry
//! (RpcRetryPolicy, idempotent), Timeout — making idempotent calls to
//! `echo`, unreliably, across whatever the server goes through: every call
//! ends answered. And LoadShed refusing a call beyond its concurrency
//! limit, on simulated time.

use std::net::Ipv4Addr;
use std::time::Duration;

use moonpool_codec::Endpoint;
use moonpool_sim_net::invariants::publish;
use moonpool_sim_net::{HostHandle, always, sometimes};
use moonpool_tower::BackoffConfig;
use moonpool_tower::rpc::{RetryConfig, RpcClient, RpcRetryPolicy};
use rand::RngExt;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use super::{Answer, Call, Method, endpoint, host_executor};

/// Calls a layered client makes.
pub const LAYERED_CALLS: u64 = 30;

/// The published key of the number of answered layered calls.
pub const ANSWERED_KEY: &str = "rpc/layered/answered";

/// The retry schedule: enough attempts (minutes of them) to outlast a
/// server restart and the longest partitions of swarm mode.
fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 300,
        backoff: BackoffConfig {
            initial: Duration::from_millis(20),
            cap: Duration::from_secs(1),
            ..BackoffConfig::full_jitter()
        },
        budget_min_per_sec: 100,
        ..RetryConfig::default()
    }
}

/// The layered client workload at `ip`, calling `echo` on `server`.
/// Publishes how many calls were answered under [`ANSWERED_KEY`].
pub async fn layered_client(ip: Ipv4Addr, server: Ipv4Addr) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let transport = super::transport_builder()
        .rng(host.rng())
        .executor(host_executor(host.clone()))
        .build()?;
    let echo: Endpoint = endpoint(server, Method::Echo);
    let rpc = RpcClient::<Call, Answer>::new(&transport, echo).unreliable();
    let policy = RpcRetryPolicy::new(retry_config(), host.rng())?.idempotent(true);
    let stack = ServiceBuilder::new()
        .buffer(64)
        .concurrency_limit(4)
        .retry(policy)
        .timeout(Duration::from_millis(400))
        .service(rpc.clone());

    let mut rng = host.rng();
    let base = u64::from(ip.octets()[3]) << 32;
    let mut calls = Vec::new();
    for n in 0..LAYERED_CALLS {
        let mut stack = stack.clone();
        let start = Duration::from_millis(rng.random_range(0..2000));
        calls.push(host.spawn(async move {
            tokio::time::sleep(start).await;
            let id = base | n;
            let answer = stack.ready().await?.call(Call { id }).await?;
            always!(answer.id == id, "a layered call gets its own answer");
            Ok::<u64, BoxError>(id)
        }));
    }
    let mut answered = 0u64;
    for call in calls {
        match call.await? {
            Ok(_) => answered += 1,
            Err(error) => always!(false, "a layered idempotent call is answered", "{error}"),
        }
        publish(ip, ANSWERED_KEY, answered);
    }

    // LoadShed: a second call while the only slot is taken is refused.
    let mut shed = ServiceBuilder::new()
        .load_shed()
        .concurrency_limit(1)
        .service(rpc);
    let first = shed.ready().await?.call(Call { id: base | 0xffff });
    let second = shed.ready().await?.call(Call { id: base | 0xfffe }).await;
    let refused = second
        .as_ref()
        .is_err_and(|error| error.is::<tower::load_shed::error::Overloaded>());
    always!(refused, "load shed refuses a call beyond the limit");
    sometimes!(refused, "a call was shed");
    // The first may meet the server mid-restart: only its resolution matters.
    let _ = first.await;
    transport.shutdown().await;
    Ok(())
}
