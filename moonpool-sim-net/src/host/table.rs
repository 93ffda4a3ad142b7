//! The host table: every host of the iteration, its incarnation, its tasks
//! and its ports.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use tokio::task::AbortHandle;
use tracing::Span;

use super::Factory;
use crate::sim::WorkloadStatus;

/// Index of a host in the table (stable for the whole iteration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HostId(u32);

#[cfg(test)]
impl HostId {
    pub(crate) fn for_tests(index: u32) -> Self {
        Self(index)
    }
}

pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) ip: Ipv4Addr,
    /// None for one-shot workloads.
    pub(crate) factory: Option<Factory>,
    pub(crate) started: bool,
    pub(crate) incarnation: u64,
    pub(crate) alive: bool,
    /// Tasks of the current incarnation (finished ones are pruned lazily).
    pub(crate) tasks: Vec<AbortHandle>,
    prune_at: usize,
    /// Derived RNG streams handed out so far (makes each stream distinct).
    pub(crate) rng_draws: u64,
    client_ports: BTreeSet<u16>,
    next_port: u16,
    pub(crate) workload: Option<WorkloadStatus>,
    pub(crate) span: Span,
}

pub(crate) struct HostTable {
    hosts: Vec<Host>,
    by_ip: BTreeMap<Ipv4Addr, HostId>,
    by_name: BTreeMap<String, HostId>,
}

const FIRST_PRUNE: usize = 64;

impl HostTable {
    pub(crate) fn new() -> Self {
        Self {
            hosts: Vec::new(),
            by_ip: BTreeMap::new(),
            by_name: BTreeMap::new(),
        }
    }

    /// Adds a host (not started). Names and addresses are checked unique by
    /// the caller.
    pub(crate) fn add(&mut self, name: String, ip: Ipv4Addr, factory: Option<Factory>) -> HostId {
        let id = HostId(u32::try_from(self.hosts.len()).unwrap_or(u32::MAX));
        let workload = factory.is_none().then_some(WorkloadStatus::Running);
        self.by_ip.insert(ip, id);
        self.by_name.insert(name.clone(), id);
        self.hosts.push(Host {
            name,
            ip,
            factory,
            started: false,
            incarnation: 0,
            alive: false,
            tasks: Vec::new(),
            prune_at: FIRST_PRUNE,
            rng_draws: 0,
            client_ports: BTreeSet::new(),
            next_port: 0,
            workload,
            span: Span::none(),
        });
        id
    }

    pub(crate) fn get(&self, id: HostId) -> Option<&Host> {
        self.hosts.get(id.0 as usize)
    }

    pub(crate) fn get_mut(&mut self, id: HostId) -> Option<&mut Host> {
        self.hosts.get_mut(id.0 as usize)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (HostId, &Host)> {
        self.hosts
            .iter()
            .enumerate()
            .map(|(i, host)| (HostId(u32::try_from(i).unwrap_or(u32::MAX)), host))
    }

    pub(crate) fn by_ip(&self, ip: Ipv4Addr) -> Option<HostId> {
        self.by_ip.get(&ip).copied()
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<Ipv4Addr> {
        let id = self.by_name.get(name)?;
        self.get(*id).map(|host| host.ip)
    }

    pub(crate) fn ip(&self, id: HostId) -> Option<Ipv4Addr> {
        self.get(id).map(|host| host.ip)
    }

    pub(crate) fn is_alive(&self, id: HostId) -> bool {
        self.get(id).is_some_and(|host| host.alive)
    }

    /// The host is up and `incarnation` is its current one.
    pub(crate) fn is_current(&self, id: HostId, incarnation: u64) -> bool {
        self.get(id)
            .is_some_and(|host| host.alive && host.incarnation == incarnation)
    }

    /// Records a task of `incarnation`; false (the caller aborts the task) if
    /// that incarnation is no longer running.
    pub(crate) fn track(&mut self, id: HostId, incarnation: u64, task: AbortHandle) -> bool {
        let Some(host) = self.get_mut(id) else {
            return false;
        };
        if !host.alive || host.incarnation != incarnation {
            return false;
        }
        host.tasks.push(task);
        if host.tasks.len() >= host.prune_at {
            host.tasks.retain(|task| !task.is_finished());
            host.prune_at = (host.tasks.len() * 2).max(FIRST_PRUNE);
        }
        true
    }

    /// Picks a free port of `range` on `id`, cycling from the last one handed
    /// out (so a closed connection's port is reused only after the others).
    pub(crate) fn allocate_port(
        &mut self,
        id: HostId,
        range: &RangeInclusive<u16>,
        listening: impl Fn(u16) -> bool,
    ) -> Option<u16> {
        let host = self.get_mut(id)?;
        let (lo, hi) = (u32::from(*range.start()), u32::from(*range.end()));
        if lo > hi {
            return None;
        }
        let size = hi - lo + 1;
        let start = u32::from(host.next_port).clamp(lo, hi) - lo;
        for step in 0..size {
            let port = u16::try_from(lo + (start + step) % size).ok()?;
            if !host.client_ports.contains(&port) && !listening(port) {
                host.next_port = if u32::from(port) == hi {
                    u16::try_from(lo).ok()?
                } else {
                    port + 1
                };
                return Some(port);
            }
        }
        None
    }

    /// Marks `port` as the local port of an outgoing connection.
    pub(crate) fn claim_port(&mut self, id: HostId, port: u16) {
        if let Some(host) = self.get_mut(id) {
            host.client_ports.insert(port);
        }
    }

    /// Whether `port` is the local port of an outgoing connection or of a
    /// bound socket.
    pub(crate) fn port_claimed(&self, id: HostId, port: u16) -> bool {
        self.get(id)
            .is_some_and(|host| host.client_ports.contains(&port))
    }

    pub(crate) fn release_port(&mut self, id: HostId, port: u16) {
        if let Some(host) = self.get_mut(id) {
            host.client_ports.remove(&port);
        }
    }

    pub(crate) fn clear_tasks(&mut self) {
        for host in &mut self.hosts {
            host.tasks.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_ports_cycle_skip_used_ones_and_run_out() {
        let mut table = HostTable::new();
        let id = table.add("h".into(), Ipv4Addr::new(10, 0, 0, 1), None);
        let range = 100..=102;
        let first = table.allocate_port(id, &range, |_| false);
        assert_eq!(first, Some(100));
        table.claim_port(id, 100);
        // 101 has a listener: skipped.
        assert_eq!(table.allocate_port(id, &range, |p| p == 101), Some(102));
        table.claim_port(id, 102);
        assert_eq!(table.allocate_port(id, &range, |p| p == 101), None);
        table.release_port(id, 100);
        // The cursor wrapped around to the freed port.
        assert_eq!(table.allocate_port(id, &range, |p| p == 101), Some(100));
    }
}
