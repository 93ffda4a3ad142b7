//! The host-scoped spawner: every task a host starts, directly or through a
//! library it handed the spawner to, belongs to that host and dies with it.

use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;

use rand::rngs::StdRng;
use tokio::task::JoinHandle;
use tracing::warn;

use super::HostContext;
use super::handle::SimHandle;
use super::task::HostTask;
use crate::tcp::SimConnector;

/// A background task as executor seams pass it: boxed, `Send`, producing
/// nothing (see [`HostHandle::spawner`]).
pub type BoxedTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A host's spawner and identity: `Clone + Send + Sync`, cheap to clone.
///
/// Hand it to a library as its executor: every task spawned through it runs
/// inside the host (its sockets work, its span is set) and is aborted when the
/// host crashes. A handle of an incarnation that crashed spawns nothing: the
/// task is cancelled before it first runs.
#[derive(Clone)]
pub struct HostHandle {
    ctx: HostContext,
}

impl HostHandle {
    /// The host the running task belongs to, or `None` outside any host.
    pub fn current() -> Option<HostHandle> {
        HostContext::current().map(|ctx| HostHandle { ctx })
    }

    /// Spawns `future` as a task of this host (incarnation).
    ///
    /// Like `tokio::spawn`, must be called from within the simulation's
    /// runtime (any task of the iteration).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_in(&self.ctx, future)
    }

    /// This host's spawner as a plain function of boxed tasks,
    /// `Fn(BoxedTask) + Clone + Send + Sync`: the shape of moonpool-tower's
    /// `Executor` (`Transport::builder(..).executor(host.spawner())`) and of
    /// other executor seams that take a closure. Every task it starts is a
    /// task of this host incarnation, as with [`HostHandle::spawn`]; for
    /// hyper and tonic, the handle itself is a `hyper::rt::Executor` (cargo
    /// feature `hyper`).
    ///
    /// ```
    /// # use moonpool_sim_net::host::{BoxedTask, HostHandle};
    /// fn takes_executor(_: impl Fn(BoxedTask) + Clone + Send + Sync + 'static) {}
    /// # fn demo(host: HostHandle) {
    /// takes_executor(host.spawner());
    /// # }
    /// ```
    pub fn spawner(&self) -> impl Fn(BoxedTask) + Clone + Send + Sync + use<> {
        let host = self.clone();
        move |task: BoxedTask| drop(host.spawn(task))
    }

    /// The host's address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ctx
            .shared
            .lock()
            .hosts
            .ip(self.ctx.host)
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// The host's name.
    pub fn name(&self) -> String {
        self.ctx
            .shared
            .lock()
            .hosts
            .get(self.ctx.host)
            .map(|host| host.name.clone())
            .unwrap_or_default()
    }

    /// The incarnation this handle spawns into: 0 for the first start, +1 per
    /// restart.
    pub fn incarnation(&self) -> u64 {
        self.ctx.incarnation
    }

    /// Whether this handle's incarnation is still running.
    pub fn is_alive(&self) -> bool {
        self.ctx
            .shared
            .lock()
            .hosts
            .is_current(self.ctx.host, self.ctx.incarnation)
    }

    /// A fresh RNG stream of this host, derived from the iteration seed, the
    /// host, its incarnation, and how many streams it drew before: the same
    /// seed gives the same streams in the same order.
    pub fn rng(&self) -> StdRng {
        self.ctx.shared.host_rng(Some(self.ctx.host))
    }

    /// A connector that connects from this host (incarnation), whichever
    /// task calls it.
    pub fn connector(&self) -> SimConnector {
        SimConnector::for_host(self.ctx.clone())
    }

    /// The simulation this host lives in.
    pub fn sim(&self) -> SimHandle {
        SimHandle::from_shared(self.ctx.shared.clone())
    }
}

impl fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostHandle")
            .field("host", &self.ctx.host)
            .field("incarnation", &self.ctx.incarnation)
            .finish()
    }
}

/// Spawns `future` as a task of the current host (see [`HostHandle::spawn`]).
///
/// Called outside any host (from a plain `tokio::spawn` task, say), the task
/// is cancelled before it runs and a warning is logged: tasks that belong to
/// no host would escape crashes and break determinism. Panics outside a tokio
/// runtime, like `tokio::spawn`.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match HostContext::current() {
        Some(ctx) => spawn_in(&ctx, future),
        None => {
            warn!("moonpool_sim_net::spawn called outside a simulated host: task cancelled");
            let handle = tokio::spawn(future);
            handle.abort();
            handle
        }
    }
}

pub(crate) fn spawn_in<F>(ctx: &HostContext, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = HostTask::new(ctx.clone(), future);
    let handle = ctx.shared.runtime.spawn(task);
    let tracked = ctx
        .shared
        .lock()
        .hosts
        .track(ctx.host, ctx.incarnation, handle.abort_handle());
    if !tracked {
        // The incarnation is gone: the task must never run.
        handle.abort();
    }
    handle
}
