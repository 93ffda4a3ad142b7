//! Running one iteration: the paused runtime, host start-up, and the
//! watchdog that ends the iteration on completion, failure, stall or budget.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::tokio_rng::TokioRng;
use super::{HostKind, Sim, SimError, SimOutcome, WorkloadReport, driver};
use crate::config::OsConfig;
use crate::host::{HostTable, start_host};
use crate::instant::later;
use crate::net::Net;
use crate::world::{Shared, World};

/// Runs `iteration` on a new OS thread whose entropy and clocks are seeded
/// from `seed`, and waits for it; a panic on that thread goes on here.
///
/// A fresh thread is what makes the seeding complete: std draws a thread's
/// hash keys, and tokio the seed of its thread RNG, the first time they are
/// used on the thread, so on a fresh seeded thread both come from the seed
/// instead of from whatever ran on the thread before.
///
/// # Errors
/// The operating system refused a new thread.
pub(crate) fn on_fresh_thread<T: Send>(
    seed: u64,
    os: &OsConfig,
    iteration: impl FnOnce() -> T + Send,
) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name(format!("moonpool-sim seed {seed}"))
            .spawn_scoped(scope, move || {
                let _seeded = crate::os::enter(os, seed);
                iteration()
            })?;
        match thread.join() {
            Ok(value) => Ok(value),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

pub(crate) fn run_here(sim: Sim, budget: Duration) -> Result<SimOutcome, SimError> {
    sim.net.validate()?;
    sim.faults.validate()?;
    check_hosts(&sim)?;
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_time().start_paused(true);
    // tokio's own RNG (the branch order of an unbiased `select!`) is seeded
    // from the iteration only when tokio exposes it.
    #[cfg(tokio_unstable)]
    builder.rng_seed(tokio::runtime::RngSeed::from_bytes(&sim.seed.to_le_bytes()));
    let runtime = builder.build().map_err(SimError::Runtime)?;
    let (shared, result) = runtime.block_on(iteration(sim, budget));
    // Tasks still alive (servers) are dropped with the runtime; the world is
    // marked finished, so their sockets' drops do nothing.
    drop(runtime);
    shared.lock().clear();
    result
}

fn check_hosts(sim: &Sim) -> Result<(), SimError> {
    let mut names = BTreeSet::new();
    let mut ips = BTreeSet::new();
    for host in &sim.hosts {
        let ip = host.ip;
        if ip.is_unspecified() || ip.is_loopback() || ip.is_broadcast() || ip.is_multicast() {
            return Err(SimError::ReservedIp {
                name: host.name.clone(),
                ip,
            });
        }
        if !names.insert(host.name.as_str()) {
            return Err(SimError::DuplicateName(host.name.clone()));
        }
        if !ips.insert(ip) {
            return Err(SimError::DuplicateIp(ip));
        }
    }
    if !sim
        .hosts
        .iter()
        .any(|host| matches!(host.kind, HostKind::Workload(_)))
    {
        return Err(SimError::NoWorkload);
    }
    Ok(())
}

async fn iteration(sim: Sim, budget: Duration) -> (Arc<Shared>, Result<SimOutcome, SimError>) {
    // First of all, before any code can draw from it.
    let tokio_rng = TokioRng::learn();
    let start = Instant::now();
    // From here on, `std::time` on this thread reads tokio's paused clock.
    crate::os::attach_tokio_clock(start);
    let seed = sim.seed;
    let mut table = HostTable::new();
    let mut roots = Vec::new();
    let mut workloads = 0;
    for spec in sim.hosts {
        match spec.kind {
            HostKind::Restartable(factory) => {
                roots.push((table.add(spec.name, spec.ip, Some(factory)), None));
            }
            HostKind::Workload(future) => {
                workloads += 1;
                roots.push((table.add(spec.name, spec.ip, None), Some(future)));
            }
        }
    }
    let stable: Vec<_> = sim
        .faults
        .stable_hosts
        .iter()
        .filter_map(|&ip| table.by_ip(ip))
        .collect();
    let mut net = Net::new(sim.net, sim.faults, seed, start, sim.config.record_trace);
    net.faults.stable.extend(stable);
    let mut world = World::new(net, table);
    world.workloads_pending = workloads;
    let shared = Arc::new(Shared::new(
        world,
        tokio::runtime::Handle::current(),
        start,
        seed,
    ));
    super::spawn_world(&shared, "event driver", driver::drive(shared.clone()));
    for (id, root) in roots {
        start_host(&shared, id, root);
    }
    crate::fault::chaos::start(&shared);
    let result = watch(&shared, budget, sim.config.stall_window).await;
    let tokio_rng_draws = tokio_rng.and_then(|rng| rng.draws_since());
    let outcome = {
        let mut world = shared.lock();
        world.finished = true;
        let at = Instant::now().saturating_duration_since(start);
        match result {
            Ok(()) => Ok(SimOutcome {
                seed,
                trace_hash: world.net.trace.hash(),
                events: world.net.trace.count(),
                sim_elapsed: at,
                trace: world.net.trace.take_records(),
                faults: world.net.faults.counts,
                tokio_rng_draws,
                workloads: world
                    .hosts
                    .iter()
                    .filter_map(|(_, host)| {
                        Some(WorkloadReport {
                            name: host.name.clone(),
                            ip: host.ip,
                            status: host.workload?,
                        })
                    })
                    .collect(),
            }),
            Err(error) => Err(error),
        }
    };
    (shared, outcome)
}

/// Waits until the workloads are done, a failure, or the budget. At the
/// budget, compares host polls and network events with those at the start of
/// the final stretch: no change means stalled.
async fn watch(
    shared: &Arc<Shared>,
    budget: Duration,
    stall_window: Duration,
) -> Result<(), SimError> {
    let deadline = later(shared.start, budget);
    let window = stall_window.min(deadline.saturating_duration_since(shared.start) / 2);
    let check = sleep_until(deadline - window);
    let end = sleep_until(deadline);
    tokio::pin!(check, end);
    let mut snapshot = None;
    loop {
        {
            let mut world = shared.lock();
            if let Some(failure) = world.failure.take() {
                return Err(failure);
            }
            if world.workloads_pending == 0 {
                return Ok(());
            }
        }
        tokio::select! {
            biased;
            () = shared.done.notified() => {}
            () = &mut check, if snapshot.is_none() => snapshot = Some(shared.activity()),
            () = &mut end => {
                let stalled = snapshot == Some(shared.activity());
                let report = Box::new(shared.lock().wait_report(budget));
                return Err(if stalled {
                    SimError::Stalled(report)
                } else {
                    SimError::BudgetExceeded(report)
                });
            }
        }
    }
}
