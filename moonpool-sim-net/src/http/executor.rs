//! `hyper::rt::Executor` for host handles: framework tasks that belong to a
//! host.

use std::future::Future;

use crate::host::HostHandle;

/// Spawns onto the host of the task that spawns, like
/// [`spawn`](crate::spawn): a `hyper::rt::Executor` to hand a framework
/// before any host exists (a builder made in a test's setup).
///
/// Outside any host the task is cancelled before it runs (see
/// [`spawn`](crate::spawn)). To pin tasks to one host whoever spawns them,
/// use its [`HostHandle`] as the executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct CurrentHost;

impl<F> hyper::rt::Executor<F> for CurrentHost
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(crate::spawn(future));
    }
}

/// Every task spawned through the handle is a task of its host incarnation,
/// aborted when it crashes (see [`HostHandle::spawn`]).
impl<F> hyper::rt::Executor<F> for HostHandle
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        drop(self.spawn(future));
    }
}
