//! The scripted fault API: partitions, clogs, heals, closes and crashes a
//! workload triggers at the simulated times it chooses; the per-host drifted
//! clock; buggified sleeps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Block, CrashMode, FaultCounts, FaultKind};
use crate::host::{HostContext, HostError, HostId, SimHandle};
use crate::instant::later;
use crate::net::connection::{EndState, Side, send_reset, transmit};
use crate::net::errors::SocketError;
use crate::world::{Shared, Wakes, World};

/// How [`SimHandle::close_connections`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// Both ends reset: every call on either end fails with `ConnectionReset`.
    Reset,
    /// Both write halves shut: each end reads EOF after the bytes in flight.
    Fin,
}

fn host_addr(ip: Option<Ipv4Addr>) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip.unwrap_or(Ipv4Addr::UNSPECIFIED)), 0)
}

impl World {
    fn host_id(&self, ip: Ipv4Addr) -> Result<HostId, HostError> {
        self.hosts.by_ip(ip).ok_or(HostError::UnknownHost(ip))
    }

    /// Blocks `from -> to` (None: any host) for `duration`, and records it.
    pub(crate) fn add_block(
        &mut self,
        from: Option<Ipv4Addr>,
        to: Option<Ipv4Addr>,
        duration: Duration,
        partition: bool,
    ) -> Result<(), HostError> {
        let from_id = from.map(|ip| self.host_id(ip)).transpose()?;
        let to_id = to.map(|ip| self.host_id(ip)).transpose()?;
        let now = Instant::now();
        self.net.faults.add_block(Block {
            from: from_id,
            to: to_id,
            until: later(now, duration),
            partition,
        });
        let kind = if partition {
            FaultKind::Partition
        } else {
            FaultKind::Clog
        };
        self.net.fault(now, kind, host_addr(from), host_addr(to));
        Ok(())
    }

    /// Closes every open connection between hosts `a` and `b`; returns how many.
    fn close_between(&mut self, a: HostId, b: HostId, kind: CloseKind, wakes: &mut Wakes) -> usize {
        let now = Instant::now();
        let World { net, conns, .. } = self;
        let mut closed = 0;
        for (key, conn) in conns.iter_mut() {
            let hosts = (conn.end(Side::Client).host, conn.end(Side::Server).host);
            let open = conn
                .ends
                .iter()
                .all(|end| end.state == EndState::Open && !end.reset);
            if !open || (hosts != (a, b) && hosts != (b, a)) {
                continue;
            }
            closed += 1;
            let path = conn.path(Side::Client);
            net.fault(now, FaultKind::ScriptedClose, path.from, path.to);
            for side in [Side::Client, Side::Server] {
                match kind {
                    CloseKind::Reset => {
                        send_reset(conn, key, side, net, now, wakes);
                        let end = conn.end_mut(side);
                        end.abort(SocketError::Reset);
                        end.wake_all(wakes);
                    }
                    CloseKind::Fin => {
                        conn.end_mut(side).shutdown = true;
                        transmit(conn, key, side, net, now, wakes);
                    }
                }
            }
        }
        closed
    }
}

impl Shared {
    /// Crashes `ip` in `mode` and counts it as a fault.
    pub(crate) fn crash_fault(&self, ip: Ipv4Addr, mode: CrashMode) -> Result<(), HostError> {
        self.crash(ip, mode)?;
        let kind = match mode {
            CrashMode::Reset => FaultKind::CrashReset,
            CrashMode::Vanish => FaultKind::CrashVanish,
            CrashMode::Graceful => FaultKind::CrashGraceful,
        };
        let addr = host_addr(Some(ip));
        self.lock()
            .net
            .fault(Instant::now(), kind, addr, host_addr(None));
        Ok(())
    }

    fn with_world<R>(&self, f: impl FnOnce(&mut World, &mut Wakes) -> R) -> Result<R, HostError> {
        let mut wakes = Wakes::default();
        let result = {
            let mut world = self.lock();
            if world.finished {
                return Err(HostError::SimulationOver);
            }
            f(&mut world, &mut wakes)
        };
        wakes.finish(self);
        Ok(result)
    }
}

/// The scripted fault API: call these from a workload at the simulated
/// times you choose (`tokio::time::sleep` between them). Scripted faults
/// apply to stable hosts too; they are counted and traced like random ones.
impl SimHandle {
    /// Cuts both directions between `a` and `b` for `duration`. Connected
    /// streams hold their bytes and deliver them after the heal, unless the
    /// partition outlasts [`FaultConfig::connection_timeout`](crate::FaultConfig::connection_timeout)
    /// while data waits: then both ends fail with `TimedOut`.
    pub fn partition(&self, a: Ipv4Addr, b: Ipv4Addr, duration: Duration) -> Result<(), HostError> {
        self.partition_one_way(a, b, duration)?;
        self.partition_one_way(b, a, duration)
    }

    /// Cuts packets from `from` to `to` only, for `duration`.
    pub fn partition_one_way(
        &self,
        from: Ipv4Addr,
        to: Ipv4Addr,
        duration: Duration,
    ) -> Result<(), HostError> {
        self.shared
            .with_world(|world, _| world.add_block(Some(from), Some(to), duration, true))?
    }

    /// Cuts `ip` from every other host, both directions, for `duration`.
    pub fn isolate(&self, ip: Ipv4Addr, duration: Duration) -> Result<(), HostError> {
        self.shared.with_world(|world, _| {
            world.add_block(Some(ip), None, duration, true)?;
            world.add_block(None, Some(ip), duration, true)
        })?
    }

    /// Ends every partition and clog now; everything held (bytes, FIN,
    /// RST, handshake packets) is delivered at once, in order.
    pub fn heal(&self) -> Result<(), HostError> {
        self.shared.with_world(|world, wakes| {
            world.net.faults.clear_blocks();
            let any = host_addr(None);
            world.net.fault(Instant::now(), FaultKind::Heal, any, any);
            world.release_all(wakes);
        })
    }

    /// Stalls everything `ip` sends for `duration` (nothing is lost).
    pub fn clog_send(&self, ip: Ipv4Addr, duration: Duration) -> Result<(), HostError> {
        self.shared
            .with_world(|world, _| world.add_block(Some(ip), None, duration, false))?
    }

    /// Stalls everything `ip` receives for `duration` (nothing is lost).
    pub fn clog_receive(&self, ip: Ipv4Addr, duration: Duration) -> Result<(), HostError> {
        self.shared
            .with_world(|world, _| world.add_block(None, Some(ip), duration, false))?
    }

    /// Stalls packets from `from` to `to` for `duration` (FoundationDB's `clogPair`).
    pub fn clog_pair(
        &self,
        from: Ipv4Addr,
        to: Ipv4Addr,
        duration: Duration,
    ) -> Result<(), HostError> {
        self.shared
            .with_world(|world, _| world.add_block(Some(from), Some(to), duration, false))?
    }

    /// Closes every open connection between `a` and `b`; returns how many.
    pub fn close_connections(
        &self,
        a: Ipv4Addr,
        b: Ipv4Addr,
        kind: CloseKind,
    ) -> Result<usize, HostError> {
        self.shared.with_world(|world, wakes| {
            let (a, b) = (world.host_id(a)?, world.host_id(b)?);
            Ok(world.close_between(a, b, kind, wakes))
        })?
    }

    /// Crashes `ip` the way `mode` says ([`crash`](Self::crash) is
    /// `CrashMode::Reset` without counting it as a fault).
    pub fn crash_with(&self, ip: Ipv4Addr, mode: CrashMode) -> Result<(), HostError> {
        self.shared.crash_fault(ip, mode)
    }

    /// Marks `ip` stable: exempt from random faults from now on.
    pub fn mark_stable(&self, ip: Ipv4Addr) -> Result<(), HostError> {
        self.shared.with_world(|world, _| {
            let id = world.host_id(ip)?;
            world.net.faults.stable.insert(id);
            Ok(())
        })?
    }

    /// How many faults of each kind fired so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.shared.lock().net.faults.counts
    }

    /// The current host's drifted clock (see [`timer`]).
    pub fn timer(&self) -> Instant {
        timer()
    }
}

/// FoundationDB's `timer()`: the current host's clock, which may run up to
/// [`ClockFaults::max_drift`](crate::ClockFaults::max_drift) ahead of
/// simulated time (`tokio::time::Instant::now()`), never goes backwards, and
/// differs between hosts. Without clock faults, or outside a host, it is
/// simulated now.
pub fn timer() -> Instant {
    let now = Instant::now();
    let Some(ctx) = HostContext::current() else {
        return now;
    };
    let mut world = ctx.shared.lock();
    let (at, drifted) = world.net.faults.timer(ctx.host, now);
    if drifted {
        let ip = world.hosts.ip(ctx.host);
        world
            .net
            .fault(now, FaultKind::ClockDrift, host_addr(ip), host_addr(None));
    }
    at
}

/// Sleeps `duration`, or sometimes longer: with buggified delays on, with
/// their probability, by `max * U^1000` more (FoundationDB's
/// `MAX_BUGGIFIED_DELAY` rule: almost always a hair, rarely most of `max`).
/// Use it where your code sleeps and a late wake-up must be survivable.
pub async fn buggified_sleep(duration: Duration) {
    let extra = HostContext::current().and_then(|ctx| buggify_extra(&ctx.shared, ctx.host));
    tokio::time::sleep(duration.saturating_add(extra.unwrap_or_default())).await;
}

fn buggify_extra(shared: &Arc<Shared>, host: HostId) -> Option<Duration> {
    let mut world = shared.lock();
    let extra = world.net.faults.buggified_extra()?;
    let ip = world.hosts.ip(host);
    world.net.fault(
        Instant::now(),
        FaultKind::BuggifiedDelay,
        host_addr(ip),
        host_addr(None),
    );
    Some(extra)
}
