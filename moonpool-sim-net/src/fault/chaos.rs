//! The background injectors of scheduled faults: random clogs, random
//! partitions, and attrition (crash, then restart after a delay). Each runs
//! as a world task (not a host's), draws from the fault chaos stream, and
//! sleeps on simulated time between faults.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use tracing::debug;

use super::{CrashMode, FaultKind};
use crate::sim::spawn_world;
use crate::world::{Shared, World};

/// Starts the injectors the configuration turns on.
pub(crate) fn start(shared: &Arc<Shared>) {
    let (clog, partition, attrition) = {
        let world = shared.lock();
        let c = &world.net.faults.config;
        (c.clog.enabled, c.partition.enabled, c.attrition.enabled)
    };
    if clog {
        spawn_world(shared, "clog injector", clogs(shared.clone()));
    }
    if partition {
        spawn_world(shared, "partition injector", partitions(shared.clone()));
    }
    if attrition {
        spawn_world(shared, "attrition injector", attrition_loop(shared.clone()));
    }
}

fn upto(rng: &mut StdRng, max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// Hosts random faults may hit: not stable (and alive, for crashes).
fn candidates(world: &World, restartable_only: bool) -> Vec<Ipv4Addr> {
    world
        .hosts
        .iter()
        .filter(|(id, host)| {
            !world.net.faults.stable.contains(id)
                && (!restartable_only || (host.factory.is_some() && host.alive))
        })
        .map(|(_, host)| host.ip)
        .collect()
}

fn pick(rng: &mut StdRng, hosts: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    (!hosts.is_empty()).then(|| hosts[rng.random_range(0..hosts.len())])
}

async fn clogs(shared: Arc<Shared>) {
    loop {
        let wait = {
            let mut world = shared.lock();
            let interval = world.net.faults.config.clog.interval.saturating_mul(2);
            upto(world.net.faults.chaos_rng(), interval)
        };
        tokio::time::sleep(wait).await;
        let mut world = shared.lock();
        let hosts = candidates(&world, false);
        let max = world.net.faults.config.clog.max_duration;
        let rng = world.net.faults.chaos_rng();
        let duration = upto(rng, max);
        let (Some(a), Some(b)) = (pick(rng, &hosts), pick(rng, &hosts)) else {
            continue;
        };
        let (from, to) = match rng.random_range(0..3u32) {
            0 => (Some(a), None),
            1 => (None, Some(a)),
            _ => (Some(a), Some(b)),
        };
        if from.is_some() && from == to {
            continue;
        }
        debug!(?from, ?to, ?duration, "random clog");
        let _ = world.add_block(from, to, duration, false);
    }
}

async fn partitions(shared: Arc<Shared>) {
    loop {
        let wait = {
            let mut world = shared.lock();
            let interval = world.net.faults.config.partition.interval.saturating_mul(2);
            upto(world.net.faults.chaos_rng(), interval)
        };
        tokio::time::sleep(wait).await;
        let mut world = shared.lock();
        let hosts = candidates(&world, false);
        let config = world.net.faults.config.partition.clone();
        let rng = world.net.faults.chaos_rng();
        let duration = upto(rng, config.max_duration);
        let (Some(a), Some(b)) = (pick(rng, &hosts), pick(rng, &hosts)) else {
            continue;
        };
        let shape: f64 = rng.random();
        debug!(%a, %b, ?duration, shape, "random partition");
        if shape < config.isolate_probability {
            let _ = world.add_block(Some(a), None, duration, true);
            let _ = world.add_block(None, Some(a), duration, true);
        } else if a != b {
            let _ = world.add_block(Some(a), Some(b), duration, true);
            if shape >= config.isolate_probability + config.one_way_probability {
                let _ = world.add_block(Some(b), Some(a), duration, true);
            }
        }
    }
}

async fn attrition_loop(shared: Arc<Shared>) {
    loop {
        let wait = {
            let mut world = shared.lock();
            let interval = world.net.faults.config.attrition.interval.saturating_mul(2);
            upto(world.net.faults.chaos_rng(), interval)
        };
        tokio::time::sleep(wait).await;
        let plan = {
            let mut world = shared.lock();
            let config = world.net.faults.config.attrition.clone();
            let down = world
                .hosts
                .iter()
                .filter(|(_, host)| host.factory.is_some() && !host.alive)
                .count();
            let hosts = candidates(&world, true);
            let rng = world.net.faults.chaos_rng();
            let delay = upto(rng, config.max_restart_delay);
            let shape: f64 = rng.random();
            let mode = if shape < config.vanish_probability {
                CrashMode::Vanish
            } else if shape < config.vanish_probability + config.graceful_probability {
                CrashMode::Graceful
            } else {
                CrashMode::Reset
            };
            let target = pick(rng, &hosts).filter(|_| down < config.max_down);
            target.map(|ip| (ip, mode, delay))
        };
        let Some((ip, mode, delay)) = plan else {
            continue;
        };
        debug!(%ip, ?mode, ?delay, "attrition: crash");
        if shared.crash_fault(ip, mode).is_err() {
            continue;
        }
        let restarter = shared.clone();
        spawn_world(&shared, "attrition restarter", async move {
            tokio::time::sleep(delay).await;
            let down = {
                let world = restarter.lock();
                world
                    .hosts
                    .by_ip(ip)
                    .is_some_and(|id| !world.hosts.is_alive(id))
            };
            if down && restarter.restart(ip).is_ok() {
                let addr = std::net::SocketAddr::from((ip, 0));
                let any = std::net::SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
                let now = tokio::time::Instant::now();
                restarter
                    .lock()
                    .net
                    .fault(now, FaultKind::Restart, addr, any);
            }
        });
    }
}
