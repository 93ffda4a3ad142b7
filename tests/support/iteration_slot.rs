//! State one simulation iteration shares between a workload and the
//! incarnations of a restartable host.

#![allow(dead_code)] // Each test target uses a part of the support modules.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Weak};
use std::thread::ThreadId;

use moonpool_sim_net::BoxError;

/// One iteration's value, by the thread the iteration runs on, and whether
/// that thread has ended.
type Slot<T> = (ThreadId, Arc<Mutex<T>>, bool);

/// Holds each running iteration's `T`. The workload's factory calls
/// [`start`](Self::start); host factories call [`current`](Self::current).
/// The runner calls an iteration's factories on that iteration's own thread,
/// workload factories first, so a host (and each of its restarts) finds its
/// iteration's value, even while other iterations run side by side
/// (`MOONPOOL_JOBS`). A value is dropped by the first `start` after its
/// iteration's thread ended (not while that thread's thread-locals are
/// being torn down, where dropping peers would reach tokio's).
pub(crate) struct IterationSlot<T>(Arc<Mutex<Vec<Slot<T>>>>);

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

thread_local! {
    /// Removes this thread's values from their slots when the thread ends.
    static ON_EXIT: RefCell<ThreadExit> = RefCell::new(ThreadExit(Vec::new()));
}

struct ThreadExit(Vec<Box<dyn FnOnce()>>);

impl Drop for ThreadExit {
    fn drop(&mut self) {
        for cleanup in self.0.drain(..) {
            cleanup();
        }
    }
}

impl<T: Default + Send + 'static> IterationSlot<T> {
    /// A fresh value for a new iteration.
    pub(crate) fn start(&self) -> Arc<Mutex<T>> {
        let value = Arc::new(Mutex::new(T::default()));
        let thread = std::thread::current().id();
        let mut slots = self.0.lock().unwrap();
        slots.retain(|(id, _, ended)| *id != thread && !ended);
        slots.push((thread, value.clone(), false));
        let slots: Weak<Mutex<Vec<Slot<T>>>> = Arc::downgrade(&self.0);
        ON_EXIT.with(|exit| {
            exit.borrow_mut().0.push(Box::new(move || {
                if let Some(slots) = slots.upgrade()
                    && let Ok(mut slots) = slots.lock()
                {
                    for slot in slots.iter_mut().filter(|(id, _, _)| *id == thread) {
                        slot.2 = true;
                    }
                }
            }));
        });
        value
    }

    /// The current iteration's value.
    pub(crate) fn current(&self) -> Result<Arc<Mutex<T>>, BoxError> {
        let thread = std::thread::current().id();
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _, _)| *id == thread)
            .map(|(_, slot, _)| slot.clone())
            .ok_or_else(|| "no workload started this iteration's state".into())
    }
}
