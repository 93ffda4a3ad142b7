//! State one simulation iteration shares between a workload and the
//! incarnations of a restartable host.

#![allow(dead_code)] // Each test target uses a part of the support modules.

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use moonpool_sim_net::BoxError;

/// Holds each running iteration's `T`. The workload's factory calls
/// [`start`](Self::start); host factories call [`current`](Self::current).
/// The runner calls an iteration's factories on that iteration's own thread,
/// workload factories first, so a host (and each of its restarts) finds its
/// iteration's value, even while other iterations run side by side
/// (`MOONPOOL_JOBS`).
pub(crate) struct IterationSlot<T>(Arc<Mutex<Vec<Slot<T>>>>);

/// One running iteration's value, by the thread the iteration runs on.
type Slot<T> = (ThreadId, Arc<Mutex<T>>);

impl<T> Clone for IterationSlot<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for IterationSlot<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Default> IterationSlot<T> {
    /// A fresh value for a new iteration.
    pub(crate) fn start(&self) -> Arc<Mutex<T>> {
        let value = Arc::new(Mutex::new(T::default()));
        let thread = std::thread::current().id();
        let mut slots = self.0.lock().unwrap();
        // A slot only this holds belongs to an iteration that has ended.
        slots.retain(|(id, slot)| *id != thread && Arc::strong_count(slot) > 1);
        slots.push((thread, value.clone()));
        value
    }

    /// The current iteration's value.
    pub(crate) fn current(&self) -> Result<Arc<Mutex<T>>, BoxError> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| *id == std::thread::current().id())
            .map(|(_, slot)| slot.clone())
            .ok_or_else(|| "no workload started this iteration's state".into())
    }
}
