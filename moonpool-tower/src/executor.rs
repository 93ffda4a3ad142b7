//! Where background tasks run: the executor seam.
//!
//! Every task the stack starts (connection keepers, accept loops, incoming
//! handshakes) goes through an [`Executor`] the transport was built with, as
//! in `hyper::rt::Executor`. The default, [`TokioExecutor`], calls
//! `tokio::spawn`; a simulated host passes its own spawner (any
//! `Fn(BoxFuture) + Clone + Send + Sync`) so that it owns, and on a crash
//! aborts, every task its stack started.

use std::future::Future;
use std::pin::Pin;

/// A boxed background task: runs to completion, produces nothing.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Starts background tasks.
///
/// `execute` must not block: it hands the future to a scheduler and
/// returns. A task is expected to be polled until it completes or until the
/// owner of the executor decides to abort it (a simulated crash); the stack
/// never relies on a task outliving its executor.
///
/// Any `Fn(BoxFuture) + Clone + Send + Sync + 'static` is an executor:
///
/// ```
/// use moonpool_tower::executor::{BoxFuture, Executor};
///
/// let spawn = |task: BoxFuture| {
///     tokio::spawn(task);
/// };
/// fn takes_executor(_: impl Executor) {}
/// takes_executor(spawn);
/// ```
pub trait Executor: Clone + Send + Sync + 'static {
    /// Starts `future` in the background.
    fn execute(&self, future: BoxFuture);
}

/// The default executor: `tokio::spawn` on the current runtime.
///
/// Must be used from within a tokio runtime (as `tokio::spawn`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioExecutor;

impl Executor for TokioExecutor {
    fn execute(&self, future: BoxFuture) {
        // The join handle is not needed: tasks report through shared state.
        drop(tokio::spawn(future));
    }
}

impl<F> Executor for F
where
    F: Fn(BoxFuture) + Clone + Send + Sync + 'static,
{
    fn execute(&self, future: BoxFuture) {
        self(future)
    }
}

/// An executor behind a pointer, so that non-generic code can hold one.
pub(crate) type SharedExecutor = std::sync::Arc<dyn Fn(BoxFuture) + Send + Sync>;

/// Erases the executor's type.
pub(crate) fn share<E: Executor>(executor: E) -> SharedExecutor {
    std::sync::Arc::new(move |future| executor.execute(future))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_closure_is_an_executor_and_receives_every_task() {
        let started = Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        let executor = move |task: BoxFuture| {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(task);
        };
        let shared = share(executor);
        let (tx, rx) = tokio::sync::oneshot::channel();
        shared(Box::pin(async move {
            let _ = tx.send(7);
        }));
        assert_eq!(rx.await.unwrap(), 7);
        assert_eq!(started.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn tokio_executor_runs_the_task() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        TokioExecutor.execute(Box::pin(async move {
            let _ = tx.send(());
        }));
        rx.await.unwrap();
    }
}
