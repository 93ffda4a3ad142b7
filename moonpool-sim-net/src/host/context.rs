//! The ambient host context: which world, host and incarnation the running
//! task belongs to. It is what lets `SimTcpStream::connect` and
//! `SimTcpListener::bind` be plain static functions, like tokio's.

use std::future::Future;
use std::sync::Arc;

use tokio::task::futures::TaskLocalFuture;
use tracing::Span;

use super::HostId;
use crate::world::Shared;

tokio::task_local! {
    static CONTEXT: HostContext;
}

/// (world, host, incarnation) of a host task, plus its tracing span.
#[derive(Clone)]
pub(crate) struct HostContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) host: HostId,
    /// The host's address (fixed for its life), readable without the lock.
    pub(crate) ip: std::net::Ipv4Addr,
    pub(crate) incarnation: u64,
    pub(crate) span: Span,
}

impl HostContext {
    /// The context of the running task, if it is a host task.
    pub(crate) fn current() -> Option<Self> {
        CONTEXT.try_with(Clone::clone).ok()
    }

    /// Runs `future` with this context installed on every poll.
    pub(crate) fn scope<F: Future>(self, future: F) -> TaskLocalFuture<HostContext, F> {
        CONTEXT.scope(self, future)
    }

    /// Runs `f` synchronously with this context installed.
    pub(crate) fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CONTEXT.sync_scope(self, f)
    }
}

/// The simulated time and the address of the host whose task is running,
/// or `None` outside any host.
pub(crate) fn current_host_and_time() -> Option<(std::time::Duration, std::net::Ipv4Addr)> {
    let context = HostContext::current()?;
    let elapsed = tokio::time::Instant::now().saturating_duration_since(context.shared.start);
    Some((elapsed, context.ip))
}
