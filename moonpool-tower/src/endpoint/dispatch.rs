//! Running the service a packet is routed to: in place when it answers at
//! once, else as a task, with a bound on how many such tasks run, in total
//! and per caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use tower::{Service, ServiceExt};
use tracing::debug;

use super::share::{Caller, CallerShares, ShareGuard};
use super::{EndpointRouter, IncomingPacket, PacketService};
use crate::executor::SharedExecutor;

/// The default of [`EndpointRouter::max_handler_tasks`]: 4096.
///
/// A handler task is a request whose service did not answer at once (a
/// slow backend, a service waiting for readiness); it holds the request
/// and the service's future until it ends. A healthy node has far fewer in
/// flight (a thousand clients with four slow calls each fit), while a
/// flood against a slow service would otherwise pin one task per request
/// without limit. The bound is four times a
/// [`RequestStream`](crate::actor::RequestStream)'s default queue, the other
/// place a node holds requests it has not answered.
pub const DEFAULT_MAX_HANDLER_TASKS: usize = 4096;

/// The handler tasks of one router: how many run (in total and per
/// caller), how many may, and how many requests were refused one.
#[derive(Debug)]
pub(crate) struct HandlerTasks {
    running: AtomicUsize,
    limit: AtomicUsize,
    per_caller: usize,
    shares: Arc<CallerShares>,
    rejected: AtomicU64,
}

/// One running handler task's place in the counts; gives it back on drop
/// (the task finished, or its executor dropped it).
struct TaskSlot {
    tasks: Arc<HandlerTasks>,
    _share: ShareGuard,
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        self.tasks.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a request got no handler task.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// `limit` tasks run.
    Limit,
    /// Its caller runs its whole share.
    Share,
}

impl HandlerTasks {
    /// At most `limit` tasks, at most `per_caller` for one caller.
    pub(crate) fn new(limit: usize, per_caller: usize) -> Arc<Self> {
        Arc::new(Self {
            running: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
            per_caller,
            shares: CallerShares::new(),
            rejected: AtomicU64::new(0),
        })
    }

    /// A slot for one more task of `caller`, unless it runs its share or
    /// `limit` tasks already run.
    fn try_start(self: &Arc<Self>, caller: Caller) -> Result<TaskSlot, Refusal> {
        let share = self
            .shares
            .try_take(caller, self.per_caller)
            .ok_or(Refusal::Share)?;
        let limit = self.limit.load(Ordering::Acquire);
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < limit).then_some(running + 1)
            })
            .map_err(|_| Refusal::Limit)?;
        Ok(TaskSlot {
            tasks: Arc::clone(self),
            _share: share,
        })
    }
}

/// Hands `incoming` to `service`.
///
/// `poll_ready` and the response future are first polled in place, so a
/// service that answers at once costs no task. What is left runs as a task
/// of `executor` if `tasks` has room, and the request's caller has not used
/// its share of it. If not, the work is dropped and
/// counted: a response future is dropped (a typed endpoint's then answers
/// `BrokenPromise` through its promise, which exists by then), and a
/// packet whose service was not even ready is dropped unanswered.
pub(crate) fn dispatch(
    executor: &SharedExecutor,
    tasks: &Arc<HandlerTasks>,
    mut service: PacketService,
    incoming: IncomingPacket,
) {
    let token = incoming.packet.token;
    let caller = incoming.reply.caller();
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {
            let mut future = service.call(incoming);
            drop(service);
            // Polled once here; a later poll from the task registers the
            // real waker.
            if future.as_mut().poll(&mut cx).is_ready() {
                return;
            }
            match tasks.try_start(caller) {
                Ok(slot) => executor(Box::pin(async move {
                    let _ = future.await;
                    drop(slot);
                })),
                Err(refusal) => {
                    reject(tasks, token, refusal);
                    // Dropping the future answers BrokenPromise through
                    // the promise it holds.
                    drop(future);
                }
            }
        }
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => match tasks.try_start(caller) {
            Ok(slot) => executor(Box::pin(async move {
                let _ = service.oneshot(incoming).await;
                drop(slot);
            })),
            Err(refusal) => reject(tasks, token, refusal),
        },
    }
}

fn reject(tasks: &HandlerTasks, token: moonpool_codec::Uid, refusal: Refusal) {
    tasks.rejected.fetch_add(1, Ordering::Relaxed);
    match refusal {
        Refusal::Limit => debug!(
            %token,
            limit = tasks.limit.load(Ordering::Relaxed),
            "handler task limit reached: request dropped"
        ),
        Refusal::Share => debug!(
            %token,
            per_caller = tasks.per_caller,
            "the caller runs its share of handler tasks: request dropped"
        ),
    }
}

impl EndpointRouter {
    /// How many handler tasks may run at once: requests whose service did
    /// not answer at once. Set by
    /// [`EndpointConfig::max_handler_tasks`](crate::transport::EndpointConfig::max_handler_tasks)
    /// (default [`DEFAULT_MAX_HANDLER_TASKS`]).
    pub fn max_handler_tasks(&self) -> usize {
        self.shared.tasks.limit.load(Ordering::Acquire)
    }

    /// Sets [`max_handler_tasks`](Self::max_handler_tasks). Tasks already
    /// running beyond a lowered limit finish as usual; no new one starts
    /// until fewer than `limit` run. A limit of 0 serves only requests
    /// answered at once.
    ///
    /// Each caller (the peer a request came through) may also run at most
    /// [`EndpointConfig::max_handler_tasks_per_peer`](crate::transport::EndpointConfig::max_handler_tasks_per_peer)
    /// tasks, so one flooding peer cannot take every place.
    ///
    /// Beyond the limit, a request whose service does not answer at once
    /// is dropped: a typed endpoint ([`serve`](Self::serve)) answers it
    /// `BrokenPromise` at once, so the caller learns of the overload (its
    /// retry policy decides what to do). Request streams answer at once
    /// (they queue), so the limit never applies to them.
    pub fn set_max_handler_tasks(&self, limit: usize) {
        self.shared.tasks.limit.store(limit, Ordering::Release);
    }

    /// How many handler tasks run now.
    pub fn handler_tasks(&self) -> usize {
        self.shared.tasks.running.load(Ordering::Acquire)
    }

    /// How many requests were dropped because
    /// [`max_handler_tasks`](Self::max_handler_tasks) tasks were running,
    /// or their caller ran its share of them.
    pub fn rejected_requests(&self) -> u64 {
        self.shared.tasks.rejected.load(Ordering::Relaxed)
    }
}
