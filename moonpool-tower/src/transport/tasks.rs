//! The tasks a transport starts: counted, so that shutdown can wait for
//! them, and refused once shutdown has begun.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::trace;

use crate::executor::{BoxFuture, SharedExecutor};
use crate::peer::lock;

/// Every task a transport starts goes through here, to the executor it was
/// built with.
pub(crate) struct TaskSet {
    executor: SharedExecutor,
    shutdown: CancellationToken,
    /// Every running task holds a clone; shutdown drops this one and waits
    /// until the receiver sees every clone gone.
    guard: Mutex<Option<mpsc::Sender<()>>>,
    done: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

impl TaskSet {
    pub(crate) fn new(executor: SharedExecutor) -> Self {
        let (guard, done) = mpsc::channel(1);
        Self {
            executor,
            shutdown: CancellationToken::new(),
            guard: Mutex::new(Some(guard)),
            done: tokio::sync::Mutex::new(done),
        }
    }

    /// The signal every task watches to end at shutdown.
    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Starts a task through the executor; it counts as running until it
    /// finishes. After shutdown nothing new is started (the task is dropped
    /// unpolled): returns whether the task was started.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> bool {
        let Some(guard) = lock(&self.guard).clone() else {
            return false;
        };
        // Called without any lock held: the executor is user code.
        (self.executor)(Box::pin(async move {
            task.await;
            drop(guard);
        }));
        true
    }

    /// An executor for tasks that do not watch the shutdown signal
    /// themselves (the endpoint router's service calls): each is counted
    /// like the transport's own tasks, is dropped at shutdown if still
    /// running, and is not started at all after shutdown.
    pub(crate) fn cancelling_executor(self: &Arc<Self>) -> SharedExecutor {
        let tasks = self.clone();
        Arc::new(move |task: BoxFuture| {
            let shutdown = tasks.shutdown.clone();
            let started = tasks.spawn(async move {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => {}
                    () = task => {}
                }
            });
            if !started {
                trace!("transport shut down; an endpoint task was not started");
            }
        })
    }

    /// Signals shutdown and waits for every task to finish.
    pub(crate) async fn shutdown(&self) {
        self.shutdown.cancel();
        drop(lock(&self.guard).take());
        let mut done = self.done.lock().await;
        while done.recv().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{TokioExecutor, share};
    use std::sync::atomic::{AtomicBool, Ordering};

    struct SetOnDrop(Arc<AtomicBool>);

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn shutdown_drops_a_running_cancellable_task_and_waits_for_it() {
        let tasks = Arc::new(TaskSet::new(share(TokioExecutor)));
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        tasks.cancelling_executor()(Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }));
        tokio::task::yield_now().await;
        assert!(!dropped.load(Ordering::SeqCst), "still running");
        tasks.shutdown().await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "gone before shutdown returned"
        );
    }

    #[tokio::test]
    async fn nothing_starts_after_shutdown() {
        let tasks = Arc::new(TaskSet::new(share(TokioExecutor)));
        tasks.shutdown().await;
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        assert!(!tasks.spawn(async move { flag.store(true, Ordering::SeqCst) }));
        let flag = ran.clone();
        tasks.cancelling_executor()(Box::pin(async move { flag.store(true, Ordering::SeqCst) }));
        tokio::task::yield_now().await;
        assert!(!ran.load(Ordering::SeqCst));
    }
}
