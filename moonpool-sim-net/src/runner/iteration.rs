//! One iteration under the runner: the simulator's run wrapped with the
//! test vocabulary's context, shutdown, quiescence and invariants.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project::pin_project;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

use super::builder::{HostFuture, QuiescenceConfig, SimulationBuilder};
use crate::NetConfig;
use crate::assertions::AssertionRecord;
use crate::assertions::context::{ContextGuard, IterationContext};
use crate::invariants::{Invariant, check_all};
use crate::knobs::{ChangedKnobs, DrawnKnobs, KnobTable};
use crate::sim::{Sim, SimError};
use crate::timeline::recorder::RecorderGuard;
use crate::timeline::{Timeline, TimelineLayer};
use crate::trace::TraceRecord;
use crate::{BoxError, SimHandle};

/// What the runner asks of one iteration beyond running it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IterationOptions {
    /// Keep every network event (for a determinism diff or a timeline).
    pub(crate) record_trace: bool,
    /// Build the iteration's timeline.
    pub(crate) timeline: bool,
}

/// What one iteration produced.
#[derive(Debug)]
pub(crate) struct IterationRun {
    pub(crate) seed: u64,
    /// Why it failed; `None` if it passed.
    pub(crate) failure: Option<String>,
    /// Hash of the event trace, when known (always on success).
    pub(crate) trace_hash: Option<u64>,
    pub(crate) events: u64,
    pub(crate) sim_elapsed: Duration,
    /// The events, when recorded and recoverable.
    pub(crate) trace: Option<Vec<TraceRecord>>,
    pub(crate) record: AssertionRecord,
    pub(crate) buggify_fired: u64,
    /// Fault kind → times injected in this iteration. Empty until the fault
    /// catalogue reports its counts with the simulator's outcome.
    pub(crate) faults: BTreeMap<String, u64>,
    pub(crate) timeline: Option<Timeline>,
    /// Numbers drawn from tokio's thread RNG, when known.
    pub(crate) tokio_rng_draws: Option<u64>,
    /// The configurations the iteration drew (empty unless knobs are
    /// randomized).
    pub(crate) knobs: DrawnKnobs,
    /// Of those, the knobs that differ from the configurations given.
    pub(crate) knob_changes: ChangedKnobs,
}

impl IterationRun {
    /// An iteration that could not start: the OS refused its thread.
    fn not_started(seed: u64, error: &std::io::Error) -> Self {
        Self {
            seed,
            failure: Some(format!("cannot start the iteration's thread: {error}")),
            trace_hash: None,
            events: 0,
            sim_elapsed: Duration::ZERO,
            trace: None,
            record: AssertionRecord::default(),
            buggify_fired: 0,
            faults: BTreeMap::new(),
            timeline: None,
            tokio_rng_draws: None,
            knobs: DrawnKnobs::new(),
            knob_changes: ChangedKnobs::new(),
        }
    }
}

/// The network as a wrapper saw it when the iteration failed from inside.
#[derive(Debug, Default)]
struct Snapshot {
    at: Duration,
    trace_hash: u64,
    events: u64,
    records: Vec<TraceRecord>,
}

type SnapshotSlot = Arc<Mutex<Option<Snapshot>>>;

/// Keeps the first snapshot: the state of the network at the failure.
fn capture(slot: &SnapshotSlot) {
    let Some(handle) = SimHandle::current() else {
        return;
    };
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    slot.get_or_insert_with(|| Snapshot {
        at: handle.elapsed(),
        trace_hash: handle.trace_hash(),
        events: handle.events(),
        records: handle.trace_records(),
    });
}

/// Captures the snapshot if the inner future panics, then lets the panic
/// go on (the simulator reports it as the iteration's failure).
#[pin_project]
struct CaptureOnPanic<F> {
    #[pin]
    inner: F,
    slot: SnapshotSlot,
}

impl<F: Future> Future for CaptureOnPanic<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(move || inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                capture(this.slot);
                resume_unwind(payload)
            }
        }
    }
}

/// The error a workload returns to end an iteration that already failed;
/// the runner reports the recorded failure instead.
#[derive(Debug, thiserror::Error)]
#[error("the iteration failed (an always!, an invariant or fail_iteration)")]
struct IterationFailed;

/// Waits until no network event happened for a quiet window, or the bound.
async fn quiesce(config: QuiescenceConfig) {
    let Some(handle) = SimHandle::current() else {
        return;
    };
    let start = handle.elapsed();
    loop {
        let before = handle.events();
        tokio::time::sleep(config.quiet_window).await;
        let waited = handle.elapsed().saturating_sub(start);
        if handle.events() == before || waited >= config.max_wait {
            return;
        }
    }
}

/// One workload's place in the count of those still running: released
/// when the workload ends in any way (returns, fails, panics, or is dropped
/// because its host crashed or the iteration failed). The last one out
/// signals shutdown.
struct Pending {
    count: Arc<AtomicUsize>,
    shutdown: CancellationToken,
    released: bool,
}

impl Pending {
    /// Releases the place; true if it was the last one.
    fn release(&mut self) -> bool {
        if std::mem::replace(&mut self.released, true) {
            return false;
        }
        let last = self.count.fetch_sub(1, Ordering::AcqRel) == 1;
        if last {
            self.shutdown.cancel();
        }
        last
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.release();
    }
}

struct WorkloadWrap {
    failed: CancellationToken,
    shutdown: CancellationToken,
    pending: Arc<AtomicUsize>,
    snapshot: SnapshotSlot,
    quiescence: QuiescenceConfig,
}

impl WorkloadWrap {
    /// The workload, ended early by a recorded failure; the last workload
    /// to end (however it ends) signals shutdown, and waits for quiescence
    /// if it returned `Ok`.
    async fn run(self, workload: HostFuture) -> Result<(), BoxError> {
        let workload = CaptureOnPanic {
            inner: workload,
            slot: Arc::clone(&self.snapshot),
        };
        let mut pending = Pending {
            count: Arc::clone(&self.pending),
            shutdown: self.shutdown.clone(),
            released: false,
        };
        let work = async {
            let result = workload.await;
            match &result {
                Ok(()) => {
                    if pending.release() {
                        quiesce(self.quiescence).await;
                    }
                }
                Err(_) => capture(&self.snapshot),
            }
            result
        };
        tokio::select! {
            biased;
            () = self.failed.cancelled() => {
                capture(&self.snapshot);
                Err(IterationFailed.into())
            }
            result = work => result,
        }
    }
}

impl SimulationBuilder {
    /// Runs `seed` once, on a fresh thread whose entropy and clocks are
    /// seeded ([`crate::os`]); the iteration's context is a thread-local of
    /// that thread.
    pub(crate) fn run_iteration(&self, seed: u64, options: IterationOptions) -> IterationRun {
        let fresh = crate::sim::run::on_fresh_thread(seed, &self.sim_config.os, || {
            self.run_iteration_here(seed, options)
        });
        fresh.unwrap_or_else(|error| IterationRun::not_started(seed, &error))
    }

    fn run_iteration_here(&self, seed: u64, options: IterationOptions) -> IterationRun {
        let invariants: Arc<[Invariant]> = self.invariants.iter().cloned().collect();
        let context = IterationContext::new(seed, self.buggify, invariants, self.randomize_knobs);
        let (failed, shutdown) = (context.failed.clone(), context.shutdown.clone());
        let guard = ContextGuard::install(context);
        let recorder = options.timeline.then(|| self.start_timeline(seed));
        // User events reach the timeline through a subscriber with the
        // TimelineLayer; install one for this iteration if there is none.
        let no_subscriber =
            tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
        let subscriber = (options.timeline && no_subscriber).then(|| {
            let subscriber = tracing_subscriber::registry().with(TimelineLayer::new());
            tracing::subscriber::set_default(subscriber)
        });

        let snapshot = SnapshotSlot::default();
        let workloads = self.hosts.iter().filter(|host| host.workload).count();
        let pending = Arc::new(AtomicUsize::new(workloads));
        let net = crate::knobs::draw("net", self.net.clone(), NetConfig::randomize);
        let mut sim = Sim::new(seed)
            .net(net)
            .faults(if self.swarm {
                self.faults.clone().swarm(seed)
            } else {
                self.faults.clone()
            })
            .config(self.sim_config.clone())
            .record_trace(options.record_trace);
        for host in &self.hosts {
            if host.workload {
                let wrap = WorkloadWrap {
                    failed: failed.clone(),
                    shutdown: shutdown.clone(),
                    pending: Arc::clone(&pending),
                    snapshot: Arc::clone(&snapshot),
                    quiescence: self.quiescence,
                };
                sim = sim.workload(&host.name, host.ip, wrap.run((host.factory)()));
            } else {
                let (factory, snapshot) = (Arc::clone(&host.factory), Arc::clone(&snapshot));
                sim = sim.host(&host.name, host.ip, move || {
                    let root = CaptureOnPanic {
                        inner: factory(),
                        slot: Arc::clone(&snapshot),
                    };
                    let snapshot = Arc::clone(&snapshot);
                    async move {
                        let result = root.await;
                        if result.is_err() {
                            capture(&snapshot);
                        }
                        result
                    }
                });
            }
        }
        let result = sim.run_on_this_thread(self.budget.saturating_add(self.quiescence.max_wait));

        drop(subscriber);
        let timeline = recorder.and_then(RecorderGuard::finish);
        let context = guard.finish();
        let snapshot = snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        finish(seed, result, context, snapshot, timeline, self)
    }

    fn start_timeline(&self, seed: u64) -> RecorderGuard {
        let mut timeline = Timeline::new(format!("moonpool simulation, seed {seed}"));
        let mut aliases = BTreeMap::new();
        for host in &self.hosts {
            let track = crate::timeline::host_track(&host.name, host.ip);
            timeline.declare_track(&track);
            aliases.insert(host.ip.to_string(), track.clone());
            aliases.insert(host.name.clone(), track);
        }
        RecorderGuard::install(timeline, aliases)
    }
}

/// Turns the simulator's result and the context's record into a run.
fn finish(
    seed: u64,
    result: Result<crate::SimOutcome, SimError>,
    context: Option<IterationContext>,
    snapshot: Option<Snapshot>,
    timeline: Option<Timeline>,
    builder: &SimulationBuilder,
) -> IterationRun {
    let (mut record, buggify_fired, final_state, knobs) = match context {
        Some(context) => {
            let fired = context.buggify.fired();
            (
                context.record,
                fired,
                Some((context.state, context.invariants)),
                context.knobs,
            )
        }
        None => (AssertionRecord::default(), 0, None, KnobTable::default()),
    };
    let mut run = IterationRun {
        seed,
        failure: None,
        trace_hash: None,
        events: 0,
        sim_elapsed: Duration::ZERO,
        trace: None,
        record: AssertionRecord::default(),
        buggify_fired,
        faults: BTreeMap::new(),
        timeline,
        tokio_rng_draws: None,
        knobs: knobs.drawn,
        knob_changes: knobs.changed,
    };
    if let Some(timeline) = run.timeline.as_mut()
        && !run.knobs.is_empty()
    {
        crate::knobs::mark(timeline, RUNNER_TRACK, &run.knobs, &run.knob_changes);
    }
    let sim_failure = match result {
        Ok(outcome) => {
            run.trace_hash = Some(outcome.trace_hash);
            run.events = outcome.events;
            run.sim_elapsed = outcome.sim_elapsed;
            run.tokio_rng_draws = outcome.tokio_rng_draws;
            run.trace = Some(outcome.trace);
            run.faults = outcome
                .faults
                .iter()
                .filter(|&(_, count)| count > 0)
                .map(|(kind, count)| (kind.name().to_owned(), count))
                .collect();
            None
        }
        Err(error) => {
            match (&error, snapshot) {
                (SimError::Stalled(report) | SimError::BudgetExceeded(report), _) => {
                    run.trace_hash = Some(report.trace_hash);
                    run.events = report.events;
                    run.sim_elapsed = report.at;
                }
                (_, Some(snapshot)) => {
                    run.trace_hash = Some(snapshot.trace_hash);
                    run.events = snapshot.events;
                    run.sim_elapsed = snapshot.at;
                    run.trace = Some(snapshot.records);
                }
                // A panic in a task a host spawned: the simulator knows the
                // hash, not the events.
                _ => run.trace_hash = error.trace_hash(),
            }
            Some(error.to_string())
        }
    };
    // Invariants at quiescence, on the final published state, only if
    // nothing failed before: the first failure is the one to report.
    if record.failure.is_none()
        && sim_failure.is_none()
        && let Some((state, invariants)) = final_state
        && let Some(message) = check_all(&invariants, &state, |_| true)
    {
        record.fail(message);
    }
    run.failure = record
        .failure
        .as_ref()
        .map(|failure| failure.message.clone())
        .or(sim_failure);
    if let (Some(timeline), Some(message)) = (run.timeline.as_mut(), run.failure.as_deref()) {
        // The failure itself, on the track of the host it happened on when
        // known, else on the runner's track at the iteration's end.
        let place = record.failure.as_ref().and_then(|failure| failure.at);
        let (at, track) = match place {
            Some((at, ip)) => {
                let track = builder.hosts_by_ip().remove(&ip);
                (at, track.unwrap_or_else(|| RUNNER_TRACK.to_owned()))
            }
            None => (run.sim_elapsed, RUNNER_TRACK.to_owned()),
        };
        mark_failure(timeline, at, &track, message);
    }
    run.record = record;
    if let (Some(timeline), Some(trace)) = (run.timeline.as_mut(), run.trace.as_deref()) {
        crate::timeline::add_net_events(timeline, trace, &builder.hosts_by_ip());
    }
    run
}

/// The timeline track of what the runner itself observes.
pub(crate) const RUNNER_TRACK: &str = "runner";

/// Marks a failure (an `always!`, an invariant, an error, a divergence) on
/// `track` at `at`, in the `failure` category.
pub(crate) fn mark_failure(timeline: &mut Timeline, at: Duration, track: &str, message: &str) {
    let mut args = serde_json::Map::new();
    args.insert("failure".to_owned(), serde_json::Value::from(message));
    timeline.instant(at, track, "failure", format!("FAILED: {message}"), args);
}

impl SimulationBuilder {
    /// Host address → track name, for the timeline.
    pub(crate) fn hosts_by_ip(&self) -> BTreeMap<std::net::Ipv4Addr, String> {
        self.hosts
            .iter()
            .map(|host| (host.ip, crate::timeline::host_track(&host.name, host.ip)))
            .collect()
    }
}
