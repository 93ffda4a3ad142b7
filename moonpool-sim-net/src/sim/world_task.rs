//! The simulator's own tasks (the event driver, the chaos injectors, the
//! attrition restarter): a panic in one of them is a failure of the
//! iteration, reported with its message, never a silent stall.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project::pin_project;
use tokio::time::Instant;

use super::SimError;
use crate::host::panic_message;
use crate::world::{Shared, Wakes};

/// Spawns `future` as the simulator's task `name` (not a host's).
pub(crate) fn spawn_world<F>(shared: &Arc<Shared>, name: &'static str, future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let task = WorldTask {
        inner: future,
        shared: shared.clone(),
        name,
    };
    shared.runtime.spawn(task);
}

#[pin_project]
struct WorldTask<F> {
    #[pin]
    inner: F,
    shared: Arc<Shared>,
    name: &'static str,
}

impl<F: Future<Output = ()>> Future for WorldTask<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(move || inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                // The task ends here; it is never polled again.
                this.shared
                    .record_world_panic(this.name, panic_message(payload.as_ref()));
                Poll::Ready(())
            }
        }
    }
}

impl Shared {
    /// Fails the iteration: the simulator's task `task` panicked.
    pub(crate) fn record_world_panic(&self, task: &'static str, message: String) {
        let mut wakes = Wakes::default();
        {
            let mut world = self.lock();
            let at = Instant::now().saturating_duration_since(self.start);
            let trace_hash = world.net.trace.hash();
            let error = SimError::SimulatorPanicked {
                trace_hash,
                task,
                at,
                message,
            };
            world.fail(error, &mut wakes);
        }
        wakes.finish(self);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::{Sim, SimHandle};

    #[test]
    fn a_panic_in_a_simulator_task_fails_the_iteration_with_its_message() {
        let error = Sim::new(1)
            .workload("w", Ipv4Addr::new(10, 0, 0, 1), async {
                let handle = SimHandle::current().unwrap();
                spawn_world(&handle.shared, "test task", async {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    panic!("the simulator broke");
                });
                tokio::time::sleep(Duration::from_secs(100)).await;
                Ok::<_, std::io::Error>(())
            })
            .run(Duration::from_secs(200))
            .unwrap_err();
        match error {
            SimError::SimulatorPanicked { task, message, .. } => {
                assert_eq!(task, "test task");
                assert_eq!(message, "the simulator broke");
            }
            other => panic!("expected SimulatorPanicked, got {other}"),
        }
    }
}
