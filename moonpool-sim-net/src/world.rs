//! The shared state of one iteration: the fabric, its connections and
//! listeners, and the host table, behind one mutex.
//!
//! The iteration runs on one thread, so the mutex is never contended; it is
//! there to make sockets `Send + Sync`. Two rules keep it safe: user code is
//! never polled while the lock is held, and wakers are collected in a
//! [`Wakes`] while locked and woken only after the guard is dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::host::{HostId, HostTable};
use crate::net::connection::Connection;
use crate::net::slab::{Key, Slab};
use crate::net::{Listener, Net};
use crate::sim::SimError;

pub(crate) struct World {
    pub(crate) net: Net,
    pub(crate) conns: Slab<Connection>,
    pub(crate) listeners: Slab<Listener>,
    /// Listening ports: (host, port) -> listener.
    pub(crate) ports: BTreeMap<(HostId, u16), Key>,
    pub(crate) hosts: HostTable,
    /// The first failure (host error, task panic); ends the iteration.
    pub(crate) failure: Option<SimError>,
    pub(crate) workloads_pending: usize,
    /// Set when the iteration is over: sockets dropped while the runtime
    /// shuts down must not touch the world any more.
    pub(crate) finished: bool,
    /// Derived RNG streams handed out outside any host.
    pub(crate) world_rng_draws: u64,
}

impl World {
    pub(crate) fn new(net: Net, hosts: HostTable) -> Self {
        Self {
            net,
            conns: Slab::new(),
            listeners: Slab::new(),
            ports: BTreeMap::new(),
            hosts,
            failure: None,
            workloads_pending: 0,
            finished: false,
            world_rng_draws: 0,
        }
    }

    /// Records the first failure of the iteration.
    pub(crate) fn fail(&mut self, error: SimError, wakes: &mut Wakes) {
        if self.failure.is_none() {
            self.failure = Some(error);
        }
        wakes.notify_done();
    }

    /// Drops everything the iteration built (breaks waker/task cycles).
    pub(crate) fn clear(&mut self) {
        self.finished = true;
        self.net.queue.clear();
        self.conns.clear();
        self.listeners.clear();
        self.ports.clear();
        self.hosts.clear_tasks();
    }
}

/// Everything a socket, a host task, the driver and the run loop share.
pub(crate) struct Shared {
    world: Mutex<World>,
    /// Wakes the driver when an event earlier than its sleep is scheduled.
    pub(crate) driver: Notify,
    /// Wakes the run loop when a workload ends or something failed.
    pub(crate) done: Notify,
    /// Polls of host tasks so far: the run loop's measure of host progress.
    pub(crate) polls: AtomicU64,
    pub(crate) runtime: Handle,
    pub(crate) start: Instant,
    pub(crate) seed: u64,
}

impl Shared {
    pub(crate) fn new(world: World, runtime: Handle, start: Instant, seed: u64) -> Self {
        Self {
            world: Mutex::new(world),
            driver: Notify::new(),
            done: Notify::new(),
            polls: AtomicU64::new(0),
            runtime,
            start,
            seed,
        }
    }

    /// Locks the world. A poisoned lock (a panic inside the simulator itself)
    /// is entered anyway: the panic is reported as the iteration's failure.
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn count_poll(&self) {
        self.polls.fetch_add(1, Ordering::Relaxed);
    }

    /// (host task polls, network events) so far.
    pub(crate) fn activity(&self) -> (u64, u64) {
        let polls = self.polls.load(Ordering::Relaxed);
        (polls, self.lock().net.trace.count())
    }
}

/// Wake-ups collected under the lock, delivered after it is released.
#[derive(Default)]
pub(crate) struct Wakes {
    wakers: Vec<Waker>,
    driver: bool,
    done: bool,
}

impl Wakes {
    /// Collects wakers to wake (none, one, or several).
    pub(crate) fn push(&mut self, wakers: impl IntoIterator<Item = Waker>) {
        self.wakers.extend(wakers);
    }

    pub(crate) fn notify_driver(&mut self) {
        self.driver = true;
    }

    pub(crate) fn notify_done(&mut self) {
        self.done = true;
    }

    /// Forget a driver notification (the driver itself re-arms after a batch).
    pub(crate) fn skip_driver(&mut self) {
        self.driver = false;
    }

    /// Wakes everything collected. Call only after the world lock is released.
    pub(crate) fn finish(&mut self, shared: &Shared) {
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
        if std::mem::take(&mut self.driver) {
            shared.driver.notify_one();
        }
        if std::mem::take(&mut self.done) {
            shared.done.notify_one();
        }
    }
}
