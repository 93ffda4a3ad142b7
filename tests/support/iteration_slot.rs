//! State one simulation iteration shares between a workload and the
//! incarnations of a restartable host.

#![allow(dead_code)] // Each test target uses a part of the support modules.

use std::sync::{Arc, Mutex};

use moonpool_sim_net::BoxError;

/// Holds the current iteration's `T`. The workload's factory calls
/// [`start`](Self::start); host factories call [`current`](Self::current).
/// The runner calls workload factories while it builds an iteration, before
/// any host factory runs, so a host (and each of its restarts) always finds
/// the current iteration's value, never the previous one's.
pub(crate) struct IterationSlot<T>(Arc<Mutex<Option<Arc<Mutex<T>>>>>);

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
        *self.0.lock().unwrap() = Some(value.clone());
        value
    }

    /// The current iteration's value.
    pub(crate) fn current(&self) -> Result<Arc<Mutex<T>>, BoxError> {
        self.0
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| "no workload started this iteration's state".into())
    }
}
