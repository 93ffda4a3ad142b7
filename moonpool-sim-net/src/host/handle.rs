//! `SimHandle`: control of the running iteration from inside any host.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use tokio::time::Instant;

use super::{HostContext, HostError};
use crate::world::Shared;

/// A handle to the running iteration: `Clone + Send + Sync`, cheap to clone.
///
/// Get one inside any host with [`SimHandle::current`] or [`handle`].
#[derive(Clone)]
pub struct SimHandle {
    pub(crate) shared: Arc<Shared>,
}

/// What [`SimHandle::hosts`] tells about one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// The host's name.
    pub name: String,
    /// The host's address.
    pub ip: Ipv4Addr,
    /// Whether it is running (not crashed).
    pub alive: bool,
    /// Its current (or last) incarnation.
    pub incarnation: u64,
    /// Whether [`SimHandle::restart`] can run it again (it has a factory).
    pub restartable: bool,
}

/// The running iteration, or `None` outside any host. Same as
/// [`SimHandle::current`].
pub fn handle() -> Option<SimHandle> {
    SimHandle::current()
}

impl SimHandle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The iteration the running task belongs to, or `None` outside any host.
    pub fn current() -> Option<SimHandle> {
        HostContext::current().map(|ctx| Self::from_shared(ctx.shared))
    }

    /// Crashes the host at `ip`: aborts all of its tasks and resets all of its
    /// sockets (peers see `ConnectionReset`; its listeners stop listening).
    /// The host stays down until [`restart`](Self::restart). A workload host
    /// that crashes counts as finished. Crashing a host that is down does
    /// nothing.
    pub fn crash(&self, ip: Ipv4Addr) -> Result<(), HostError> {
        self.shared.crash(ip, crate::fault::CrashMode::Reset)
    }

    /// Restarts the host at `ip`: crashes it first if it is running, then runs
    /// its factory again as a new incarnation with fresh state.
    pub fn restart(&self, ip: Ipv4Addr) -> Result<(), HostError> {
        self.shared.restart(ip)
    }

    /// Simulated now.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Simulated time since the iteration started.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.shared.start)
    }

    /// The iteration's seed.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// A fresh RNG stream derived from the iteration seed: the current host's
    /// (see [`HostHandle::rng`](crate::HostHandle::rng)) inside a host, a
    /// world stream otherwise. Never touches OS randomness.
    pub fn host_rng(&self) -> StdRng {
        let host = HostContext::current()
            .filter(|ctx| Arc::ptr_eq(&ctx.shared, &self.shared))
            .map(|ctx| ctx.host);
        self.shared.host_rng(host)
    }

    /// The address of the host named `name`.
    pub fn lookup(&self, name: &str) -> Option<Ipv4Addr> {
        self.shared.lock().hosts.lookup(name)
    }

    /// Every host of the iteration, in the order they were added.
    pub fn hosts(&self) -> Vec<HostInfo> {
        self.shared
            .lock()
            .hosts
            .iter()
            .map(|(_, host)| HostInfo {
                name: host.name.clone(),
                ip: host.ip,
                alive: host.alive,
                incarnation: host.incarnation,
                restartable: host.factory.is_some(),
            })
            .collect()
    }

    /// The stable hash of the network events so far.
    pub fn trace_hash(&self) -> u64 {
        self.shared.lock().net.trace.hash()
    }

    /// How many network events were applied so far.
    pub fn events(&self) -> u64 {
        self.shared.lock().net.trace.count()
    }

    /// Every network event so far with its simulated time, if the iteration
    /// keeps its trace ([`SimConfig::record_trace`](crate::SimConfig::record_trace));
    /// empty otherwise. Lets a harness keep the trace of an iteration that
    /// is about to fail.
    pub fn trace_records(&self) -> Vec<crate::trace::TraceRecord> {
        self.shared
            .lock()
            .net
            .trace
            .records()
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("seed", &self.shared.seed)
            .finish()
    }
}
