//! Iterations side by side: up to `MOONPOOL_JOBS` worker threads run a
//! plan's iterations, and the run absorbs them in seed order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use super::alone::{self, AloneRun};
use super::builder::SimulationBuilder;
use super::error::RunnerError;
use super::iteration::{IterationOptions, IterationRun};
use super::plan::Plan;

/// One iteration's runs, ready to be absorbed into the report in order.
pub(super) struct Done {
    pub(super) seed: u64,
    pub(super) run: IterationRun,
    /// The determinism check's second run, for a checked seed.
    pub(super) again: Option<IterationRun>,
}

impl SimulationBuilder {
    /// Runs the plan's iterations on up to `plan.jobs` worker threads (each
    /// iteration still on a fresh thread of its own) and hands them to
    /// `absorb` in seed order, until it returns `false` or an error. The
    /// report is therefore the same whatever the number of workers; only
    /// the wall time differs.
    pub(super) fn iterate(
        &self,
        plan: &Plan,
        mut absorb: impl FnMut(Done) -> Result<bool, RunnerError>,
    ) -> Result<(), RunnerError> {
        let produce = |index: u64| -> Option<Done> {
            let seed = plan.seed(index)?;
            let checked = index < plan.determinism_seeds;
            let options = IterationOptions {
                record_trace: checked
                    || plan.trace.is_some()
                    || (plan.alone.is_some() && alone::keep_trace_requested()),
                timeline: plan.trace.is_some(),
            };
            let run = self.run_iteration(seed, options);
            if let Some(request) = &plan.alone {
                request.answer(&AloneRun::of(&run));
            }
            let again = checked.then(|| self.run_iteration(seed, options));
            Some(Done { seed, run, again })
        };
        let workers = plan.jobs.clamp(1, plan.count.max(1));
        if workers == 1 {
            for index in 0..plan.count {
                let Some(done) = produce(index) else { break };
                if !absorb(done)? {
                    break;
                }
            }
            return Ok(());
        }
        let next = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (sender, results) = mpsc::channel();
            for _ in 0..workers {
                let sender = sender.clone();
                let (next, stop, produce) = (&next, &stop, &produce);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= plan.count {
                            return;
                        }
                        // A seed list that ends early ends the run there.
                        let done = produce(index);
                        let end = done.is_none();
                        if sender.send((index, done)).is_err() || end {
                            return;
                        }
                    }
                });
            }
            drop(sender);
            let mut waiting = BTreeMap::new();
            let mut expected = 0;
            for (index, done) in results {
                waiting.insert(index, done);
                while let Some(done) = waiting.remove(&expected) {
                    expected += 1;
                    let go_on = match done {
                        Some(done) => absorb(done),
                        None => Ok(false),
                    };
                    if !matches!(go_on, Ok(true)) {
                        stop.store(true, Ordering::Relaxed);
                        return go_on.map(drop);
                    }
                }
            }
            Ok(())
        })
    }
}
