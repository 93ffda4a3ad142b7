//! The per-iteration context the macros reach through a thread-local.
//!
//! Each iteration runs on a current-thread runtime on one thread, so every
//! host task of the iteration sees the same thread-local. Outside an
//! iteration the thread-local is empty and every hook is a no-op.

use std::cell::RefCell;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::buggify::{BuggifyConfig, BuggifyState};
use super::knob_table::KnobTable;
use super::record::AssertionRecord;
use super::site::Site;
use crate::invariants::{Invariant, InvariantSchedule, StateMap};

thread_local! {
    static CURRENT: RefCell<Option<IterationContext>> = const { RefCell::new(None) };
}

/// Everything one iteration's test vocabulary records.
#[derive(Debug)]
pub(crate) struct IterationContext {
    pub(crate) seed: u64,
    pub(crate) buggify: BuggifyState,
    pub(crate) record: AssertionRecord,
    /// State hosts published for invariants, copy-on-write so a check can
    /// read a snapshot without holding the thread-local borrowed.
    pub(crate) state: Arc<StateMap>,
    pub(crate) invariants: Arc<[Invariant]>,
    /// The configurations drawn for this iteration (see [`crate::knobs`]).
    pub(crate) knobs: KnobTable,
    /// Some invariant runs after each publish.
    eager_invariants: bool,
    /// Cancelled when the iteration records its first failure.
    pub(crate) failed: CancellationToken,
    /// Cancelled when the workloads have ended: hosts should wind down.
    pub(crate) shutdown: CancellationToken,
}

impl IterationContext {
    pub(crate) fn new(
        seed: u64,
        buggify: BuggifyConfig,
        invariants: Arc<[Invariant]>,
        randomize_knobs: bool,
    ) -> Self {
        let eager_invariants = invariants
            .iter()
            .any(|invariant| invariant.schedule() == InvariantSchedule::AfterEachPublish);
        Self {
            seed,
            buggify: BuggifyState::new(seed, buggify),
            record: AssertionRecord::default(),
            state: Arc::new(StateMap::default()),
            invariants,
            knobs: KnobTable::new(randomize_knobs),
            eager_invariants,
            failed: CancellationToken::new(),
            shutdown: CancellationToken::new(),
        }
    }

    fn fail(&mut self, message: String) {
        if self.record.fail(message) {
            self.failed.cancel();
        }
    }
}

/// Installs an iteration context on this thread until dropped, restoring
/// whatever was there before.
#[derive(Debug)]
pub(crate) struct ContextGuard {
    previous: Option<IterationContext>,
}

impl ContextGuard {
    pub(crate) fn install(context: IterationContext) -> Self {
        let previous = CURRENT.with(|current| current.borrow_mut().replace(context));
        Self { previous }
    }

    /// Uninstalls the context and hands it back.
    pub(crate) fn finish(mut self) -> Option<IterationContext> {
        let previous = self.previous.take();
        CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), previous))
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: the thread-local may already be gone at thread exit.
        let _ = CURRENT.try_with(|current| {
            if let Ok(mut current) = current.try_borrow_mut() {
                *current = previous;
            }
        });
    }
}

/// Runs `f` on the current context, if any. `None` outside a simulation or
/// if the context is already borrowed (a macro called from inside a hook).
pub(crate) fn with_context<R>(f: impl FnOnce(&mut IterationContext) -> R) -> Option<R> {
    CURRENT
        .try_with(|current| current.try_borrow_mut().ok()?.as_mut().map(f))
        .ok()
        .flatten()
}

/// Whether this thread is running a simulation iteration.
pub fn in_simulation() -> bool {
    with_context(|_| ()).is_some()
}

/// The seed of the iteration running on this thread, if any.
pub fn current_seed() -> Option<u64> {
    with_context(|context| context.seed)
}

/// Cancelled when the iteration's workloads have all ended: long-running
/// hosts await it to wind down so invariants run at quiescence.
///
/// Outside a simulation this is a token nobody cancels.
pub fn shutdown_signal() -> CancellationToken {
    with_context(|context| context.shutdown.clone()).unwrap_or_default()
}

/// Fails the running iteration with `message` (no-op outside a simulation).
///
/// `always!` and invariants fail through this; a harness may call it too.
pub fn fail_iteration(message: impl Into<String>) {
    let message = message.into();
    with_context(|context| context.fail(message));
}

#[doc(hidden)]
pub fn __buggify(site: &'static Site, probability: Option<f64>) -> bool {
    with_context(|context| context.buggify.evaluate(site, probability)).unwrap_or(false)
}

#[doc(hidden)]
pub fn __always(
    cond: bool,
    name: &str,
    site: &'static Site,
    detail: impl FnOnce() -> Option<String>,
) {
    with_context(|context| {
        if context.record.always(cond, name, site, detail) {
            context.failed.cancel();
        }
    });
}

#[doc(hidden)]
pub fn __sometimes(cond: bool, name: &str, site: &'static Site) {
    with_context(|context| context.record.sometimes(cond, name, site));
}

/// Stores a published value and, if some invariant runs after each publish,
/// checks them all on a snapshot outside the thread-local borrow.
pub(crate) fn publish_value(update: impl FnOnce(&mut StateMap)) {
    let Some((snapshot, invariants)) = with_context(|context| {
        update(Arc::make_mut(&mut context.state));
        context
            .eager_invariants
            .then(|| (Arc::clone(&context.state), Arc::clone(&context.invariants)))
    })
    .flatten() else {
        return;
    };
    let failures = crate::invariants::check_all(&invariants, &snapshot, |invariant| {
        invariant.schedule() == InvariantSchedule::AfterEachPublish
    });
    if let Some(message) = failures {
        fail_iteration(message);
    }
}
