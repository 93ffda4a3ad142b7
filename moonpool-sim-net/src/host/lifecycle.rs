//! Starting, crashing and restarting hosts, and what happens when a host's
//! root future ends or one of its tasks panics.

use std::future::Future;
use std::net::Ipv4Addr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::{debug, info, info_span};

use super::spawn::spawn_in;
use super::task::panic_message;
use super::{HostContext, HostError, HostId};
use crate::BoxError;
use crate::fault::CrashMode;
use crate::net::connection::{EndState, Side, send_reset, transmit};
use crate::seed::derive_seed;
use crate::sim::{SimError, WorkloadStatus};
use crate::trace::NetEvent;
use crate::world::{Shared, Wakes, World};

/// The future a host runs as its root task.
pub(crate) type RootFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
/// A restartable host: called once per incarnation.
pub(crate) type Factory = Arc<dyn Fn() -> RootFuture + Send + Sync>;

/// Starts a new incarnation of `id` running `root` (or, if `root` is None,
/// its factory).
pub(crate) fn start_host(shared: &Arc<Shared>, id: HostId, root: Option<RootFuture>) {
    let (ctx, factory) = {
        let mut world = shared.lock();
        let Some(host) = world.hosts.get_mut(id) else {
            return;
        };
        if host.started {
            host.incarnation += 1;
        }
        host.started = true;
        host.alive = true;
        host.span =
            info_span!("host", name = %host.name, ip = %host.ip, incarnation = host.incarnation);
        let (ip, incarnation) = (host.ip, host.incarnation);
        let ctx = HostContext {
            shared: shared.clone(),
            host: id,
            ip,
            incarnation,
            span: host.span.clone(),
        };
        let factory = host.factory.clone();
        world.net.record(
            Instant::now(),
            NetEvent::HostStarted {
                host: ip,
                incarnation,
            },
        );
        (ctx, factory)
    };
    ctx.span.in_scope(|| debug!("host started"));
    let root = match (root, factory) {
        (Some(root), _) => root,
        (None, Some(factory)) => {
            let made = catch_unwind(AssertUnwindSafe(|| ctx.clone().sync_scope(|| factory())));
            match made {
                Ok(root) => root,
                Err(payload) => {
                    // No root task will run: the incarnation is down at once
                    // (tasks the factory spawned included), and the iteration
                    // fails with the panic.
                    let message = format!("host factory: {}", panic_message(payload.as_ref()));
                    shared.crash_id(ctx.host, CrashMode::Reset);
                    shared.record_panic(ctx.host, message);
                    return;
                }
            }
        }
        (None, None) => return,
    };
    let (host, incarnation) = (ctx.host, ctx.incarnation);
    let reporter = shared.clone();
    spawn_in(&ctx, async move {
        let result = root.await;
        reporter.root_exited(host, incarnation, result);
    });
}

impl Shared {
    pub(crate) fn crash(&self, ip: Ipv4Addr, mode: CrashMode) -> Result<(), HostError> {
        let mut wakes = Wakes::default();
        let tasks = {
            let mut world = self.lock();
            if world.finished {
                return Err(HostError::SimulationOver);
            }
            let id = world.hosts.by_ip(ip).ok_or(HostError::UnknownHost(ip))?;
            world.crash_host(id, mode, &mut wakes)
        };
        for task in tasks {
            task.abort();
        }
        wakes.finish(self);
        Ok(())
    }

    /// Crashes host `id` (already known to exist).
    fn crash_id(&self, id: HostId, mode: CrashMode) {
        let mut wakes = Wakes::default();
        let tasks = self.lock().crash_host(id, mode, &mut wakes);
        for task in tasks {
            task.abort();
        }
        wakes.finish(self);
    }

    pub(crate) fn restart(self: &Arc<Self>, ip: Ipv4Addr) -> Result<(), HostError> {
        let mut wakes = Wakes::default();
        let (id, tasks) = {
            let mut world = self.lock();
            if world.finished {
                return Err(HostError::SimulationOver);
            }
            let id = world.hosts.by_ip(ip).ok_or(HostError::UnknownHost(ip))?;
            let Some(host) = world.hosts.get(id) else {
                return Err(HostError::UnknownHost(ip));
            };
            if host.factory.is_none() {
                return Err(HostError::NotRestartable {
                    name: host.name.clone(),
                    ip,
                });
            }
            (id, world.crash_host(id, CrashMode::Reset, &mut wakes))
        };
        for task in tasks {
            task.abort();
        }
        wakes.finish(self);
        start_host(self, id, None);
        Ok(())
    }

    /// The root future of `id`'s `incarnation` returned.
    pub(crate) fn root_exited(&self, id: HostId, incarnation: u64, result: Result<(), BoxError>) {
        let mut wakes = Wakes::default();
        {
            let mut world = self.lock();
            let at = Instant::now().saturating_duration_since(self.start);
            let Some(host) = world.hosts.get_mut(id) else {
                return;
            };
            if !host.alive || host.incarnation != incarnation {
                return;
            }
            let pending = host.workload == Some(WorkloadStatus::Running);
            match result {
                Ok(()) if pending => {
                    host.workload = Some(WorkloadStatus::Finished);
                    host.span.in_scope(|| debug!("workload finished"));
                    world.workloads_pending -= 1;
                    wakes.notify_done();
                }
                Ok(()) => host.span.in_scope(|| debug!("host factory returned")),
                Err(source) => {
                    if pending {
                        host.workload = Some(WorkloadStatus::Failed);
                        world.workloads_pending -= 1;
                    }
                    let Some(host) = world.hosts.get(id) else {
                        return;
                    };
                    let error = SimError::HostFailed {
                        trace_hash: world.net.trace.hash(),
                        name: host.name.clone(),
                        ip: host.ip,
                        incarnation,
                        at,
                        source,
                    };
                    world.fail(error, &mut wakes);
                }
            }
        }
        wakes.finish(self);
    }

    pub(crate) fn record_panic(&self, id: HostId, message: String) {
        let mut wakes = Wakes::default();
        {
            let mut world = self.lock();
            let at = Instant::now().saturating_duration_since(self.start);
            let (name, ip) = world
                .hosts
                .get(id)
                .map(|host| (host.name.clone(), host.ip))
                .unwrap_or_else(|| (String::new(), Ipv4Addr::UNSPECIFIED));
            let trace_hash = world.net.trace.hash();
            world.fail(
                SimError::TaskPanicked {
                    trace_hash,
                    name,
                    ip,
                    at,
                    message,
                },
                &mut wakes,
            );
        }
        wakes.finish(self);
    }

    /// A derived RNG stream: of `host` if given, of the world otherwise.
    pub(crate) fn host_rng(&self, host: Option<HostId>) -> StdRng {
        let mut world = self.lock();
        let (stream, incarnation, draw) = match host.and_then(|id| world.hosts.get_mut(id)) {
            Some(host) => {
                host.rng_draws += 1;
                (
                    u64::from(host.ip.to_bits()),
                    host.incarnation,
                    host.rng_draws,
                )
            }
            None => {
                world.world_rng_draws += 1;
                (u64::MAX, 0, world.world_rng_draws)
            }
        };
        StdRng::seed_from_u64(derive_seed(self.seed, &[stream, incarnation, draw]))
    }
}

impl World {
    /// Marks `id` down, resets its sockets, and returns its tasks to abort
    /// (after the lock is released).
    pub(crate) fn crash_host(
        &mut self,
        id: HostId,
        mode: CrashMode,
        wakes: &mut Wakes,
    ) -> Vec<AbortHandle> {
        let Some(host) = self.hosts.get_mut(id) else {
            return Vec::new();
        };
        if !host.alive {
            return Vec::new();
        }
        host.alive = false;
        let tasks = std::mem::take(&mut host.tasks);
        let (ip, incarnation) = (host.ip, host.incarnation);
        host.span
            .in_scope(|| info!(tasks = tasks.len(), "host crashed"));
        if host.workload == Some(WorkloadStatus::Running) {
            host.workload = Some(WorkloadStatus::Crashed);
            self.workloads_pending -= 1;
            wakes.notify_done();
        }
        self.crash_sockets(id, mode, wakes);
        self.net.record(
            Instant::now(),
            NetEvent::HostCrashed {
                host: ip,
                incarnation,
            },
        );
        tasks
    }

    fn crash_sockets(&mut self, id: HostId, mode: CrashMode, wakes: &mut Wakes) {
        let listeners: Vec<_> = self
            .listeners
            .iter()
            .filter(|(_, listener)| listener.host == id)
            .map(|(key, _)| key)
            .collect();
        for key in listeners {
            self.close_listener(key, wakes);
        }
        let now = Instant::now();
        let World { net, conns, .. } = self;
        let mut touched = Vec::new();
        for (key, conn) in conns.iter_mut() {
            for side in [Side::Client, Side::Server] {
                let end = conn.end_mut(side);
                if end.host != id || end.is_dead() {
                    continue;
                }
                end.wake_all(wakes);
                if end.state == EndState::Open && !end.reset {
                    match mode {
                        CrashMode::Reset => send_reset(conn, key, side, net, now, wakes),
                        // Powered off: no FIN, no RST; the peer's connection is half-open.
                        CrashMode::Vanish => conn.end_mut(side).vanished = true,
                        // The process exits: the kernel closes its sockets
                        // (FIN, or RST where unread data is left).
                        CrashMode::Graceful if end.recv_bytes > 0 => {
                            send_reset(conn, key, side, net, now, wakes);
                        }
                        CrashMode::Graceful => {
                            end.shutdown = true;
                            transmit(conn, key, side, net, now, wakes);
                        }
                    }
                }
                let end = conn.end_mut(side);
                if mode != CrashMode::Graceful {
                    end.discard_buffers();
                } else {
                    end.recv.clear();
                    end.recv_bytes = 0;
                }
                end.forget_held();
                end.state = EndState::Closed;
                touched.push(key);
            }
        }
        for key in touched {
            self.free_if_dead(key);
        }
    }
}
