//! The client of the RPC workload.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_sim_net::invariants::publish;
use moonpool_sim_net::{HostHandle, sometimes};
use moonpool_tower::peer::Delivery;
use moonpool_tower::transport::Transport;
use rand::RngExt;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use super::{Call, CallRecord, ClientLog, Method, Outcome, endpoint, probe};

/// What a client does.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// Calls to make.
    pub calls: u64,
    /// The servers to spread them over.
    pub servers: Vec<Ipv4Addr>,
    /// How long the simulator's random faults last (FoundationDB's chaos
    /// phase, measured from the start of the calls). Then the check phase
    /// begins: the client and its servers are marked stable and every
    /// partition and clog is healed, so that a call still waiting then is
    /// judged on a healthy network. A swarm draw may leave no usable
    /// connection for minutes (partitions every few hundred milliseconds,
    /// lasting seconds, plus refused and hanging connects); liveness is
    /// only promised once the faults stop.
    pub chaos_for: Duration,
    /// Every call goes through tower's `Timeout`: reliable calls to `echo`
    /// (which must be answered once the network is healthy) this long:
    /// longer than `chaos_for` plus `spread`, with time to spare for the
    /// reconnection after the heal...
    pub must_answer_timeout: Duration,
    /// ...other calls this long by default...
    pub timeout: Duration,
    /// ...and this long for `short_percent` of the calls other than
    /// reliable calls to `echo` (which must be answered).
    pub short_timeout: Duration,
    /// See `short_timeout`.
    pub short_percent: u32,
    /// Calls start at a random time in `0..spread`.
    pub spread: Duration,
    /// Percent of calls to `missing` (the rest go to `echo` and `flaky`).
    pub missing_percent: u32,
}

impl Default for ClientPlan {
    fn default() -> Self {
        Self {
            calls: 40,
            servers: Vec::new(),
            chaos_for: Duration::from_secs(60),
            must_answer_timeout: Duration::from_secs(120),
            timeout: Duration::from_secs(10),
            short_timeout: Duration::from_millis(100),
            short_percent: 25,
            spread: Duration::from_secs(2),
            missing_percent: 10,
        }
    }
}

/// Makes the planned calls from the node at `ip` through `transport`,
/// concurrently, and publishes a [`ClientLog`]; returns when every call
/// has resolved. If calls are still waiting after [`ClientPlan::chaos_for`],
/// heals the network for them (see there).
pub async fn run_calls(
    ip: Ipv4Addr,
    transport: &Transport,
    plan: &ClientPlan,
) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a simulated host")?;
    let sim = host.sim();
    let mut rng = host.rng();
    let log = Arc::new(Mutex::new(ClientLog {
        planned: plan.calls,
        ..ClientLog::default()
    }));
    let update = {
        let log = log.clone();
        move |change: &dyn Fn(&mut ClientLog)| {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            change(&mut log);
            publish(ip, ClientLog::KEY, log.clone());
        }
    };
    update(&|_| {});

    let mut calls = Vec::new();
    for n in 0..plan.calls {
        let id = (u64::from(ip.octets()[3]) << 32) | n;
        let server = plan.servers[rng.random_range(0..plan.servers.len())];
        let roll = rng.random_range(0..100);
        let method = if roll < plan.missing_percent {
            Method::Missing
        } else if roll % 2 == 0 {
            Method::Echo
        } else {
            Method::Flaky
        };
        let delivery = if rng.random_bool(0.5) {
            Delivery::Reliable
        } else {
            Delivery::Unreliable
        };
        let must_answer = method == Method::Echo && delivery == Delivery::Reliable;
        let timeout = if must_answer {
            plan.must_answer_timeout
        } else if rng.random_range(0..100) < plan.short_percent {
            plan.short_timeout
        } else {
            plan.timeout
        };
        let start = Duration::from_millis(rng.random_range(0..=plan.spread.as_millis() as u64));
        let client = probe::Client::new(transport, endpoint(server, Method::Echo));
        let rpc = match method {
            Method::Echo => client.echo,
            Method::Flaky => client.flaky,
            Method::Missing => client.missing,
        }
        .with_delivery(delivery);
        let mut service = ServiceBuilder::new().timeout(timeout).service(rpc);
        let update = update.clone();
        let sim = sim.clone();
        calls.push(host.spawn(async move {
            tokio::time::sleep(start).await;
            let started = sim.elapsed();
            update(&|log| {
                log.calls.insert(
                    id,
                    CallRecord {
                        id,
                        server,
                        method,
                        delivery,
                        started,
                        ended: started,
                        timeout,
                        outcome: Outcome::Pending,
                        resolutions: 0,
                    },
                );
            });
            // What `oneshot` does, with the time the call is made (once
            // the service is ready) recorded in between.
            let outcome = match service.ready().await {
                Ok(ready) => {
                    let called = sim.elapsed();
                    update(&|log| {
                        if let Some(record) = log.calls.get_mut(&id) {
                            record.started = called;
                        }
                    });
                    Outcome::of(ready.call(Call { id }).await)
                }
                Err(error) => Outcome::of(Err(error)),
            };
            sometimes!(outcome == Outcome::Answered { id }, "a call was answered");
            sometimes!(
                outcome == Outcome::BrokenPromise,
                "a call met a broken promise"
            );
            sometimes!(
                outcome == Outcome::EndpointNotFound,
                "a call met endpoint not found"
            );
            sometimes!(
                outcome == Outcome::MaybeDelivered,
                "a call was maybe delivered"
            );
            sometimes!(outcome == Outcome::TimedOut, "a call timed out");
            let ended = sim.elapsed();
            update(&|log| {
                if let Some(record) = log.calls.get_mut(&id) {
                    record.ended = ended;
                    record.outcome = outcome.clone();
                    record.resolutions += 1;
                }
            });
        }));
    }
    let all_resolved = async {
        for call in calls {
            call.await?;
        }
        Ok::<(), BoxError>(())
    };
    let check_phase = async {
        tokio::time::sleep(plan.chaos_for).await;
        for &stable in plan.servers.iter().chain([&ip]) {
            sim.mark_stable(stable)?;
        }
        sim.heal()?;
        sometimes!(true, "calls waited for the check phase");
        std::future::pending::<Result<(), BoxError>>().await
    };
    tokio::select! {
        biased;
        result = all_resolved => result,
        error = check_phase => error,
    }
}
