//! One simulation iteration: the [`Sim`] builder, the paused runtime it runs
//! on, the driver, the budget, and what it returns.

mod driver;
mod error;
mod report;
pub(crate) mod run;
mod tokio_rng;
mod world_task;

use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

pub use error::SimError;
pub use report::{HostReport, SocketReport, WaitReport};
pub(crate) use world_task::spawn_world;

use crate::BoxError;
use crate::config::{NetConfig, SimConfig};
use crate::fault::{FaultConfig, FaultCounts};
use crate::host::{Factory, RootFuture};
use crate::trace::TraceRecord;

/// One iteration's world: a seed, a network configuration, and hosts.
///
/// ```
/// use std::net::Ipv4Addr;
/// use std::time::Duration;
/// use moonpool_sim_net::{Sim, SimTcpListener, SimTcpStream};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let server = Ipv4Addr::new(10, 0, 0, 1);
/// let outcome = Sim::new(42)
///     .host("server", server, || async {
///         let listener = SimTcpListener::bind("0.0.0.0:7000").await?;
///         let (mut stream, _) = listener.accept().await?;
///         stream.write_all(b"hi").await?;
///         Ok::<_, std::io::Error>(())
///     })
///     .workload("client", Ipv4Addr::new(10, 0, 0, 2), async move {
///         let mut stream = SimTcpStream::connect((server, 7000)).await?;
///         let mut buf = [0; 2];
///         stream.read_exact(&mut buf).await?;
///         assert_eq!(&buf, b"hi");
///         Ok::<_, std::io::Error>(())
///     })
///     .run(Duration::from_secs(10))
///     .unwrap();
/// assert!(outcome.events > 0);
/// ```
pub struct Sim {
    seed: u64,
    net: NetConfig,
    config: SimConfig,
    faults: FaultConfig,
    hosts: Vec<HostSpec>,
}

struct HostSpec {
    name: String,
    ip: Ipv4Addr,
    kind: HostKind,
}

enum HostKind {
    Restartable(Factory),
    Workload(RootFuture),
}

/// How a workload host ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadStatus {
    /// Still running (only seen in reports of failed iterations).
    Running,
    /// Its future returned `Ok`.
    Finished,
    /// Its future returned an error.
    Failed,
    /// Its host was crashed before it finished.
    Crashed,
}

/// A workload host and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadReport {
    /// The host's name.
    pub name: String,
    /// The host's address.
    pub ip: Ipv4Addr,
    /// How it ended.
    pub status: WorkloadStatus,
}

/// What a successful iteration returns.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    /// The iteration's seed.
    pub seed: u64,
    /// Stable hash (FNV-1a 64) of every network event, in order: the same
    /// seed and workload always give the same value.
    pub trace_hash: u64,
    /// How many network events were applied.
    pub events: u64,
    /// Simulated time from start until the last workload finished.
    pub sim_elapsed: Duration,
    /// Every network event with its simulated time, if
    /// [`SimConfig::record_trace`] was set; empty otherwise.
    pub trace: Vec<TraceRecord>,
    /// Every workload and how it ended.
    pub workloads: Vec<WorkloadReport>,
    /// How many faults of each kind were injected.
    pub faults: FaultCounts,
    /// How many numbers the iteration's code drew from tokio's thread RNG
    /// (an unbiased `select!`, a `watch` with waiters), or `None` if that
    /// could not be told. A build without `--cfg tokio_unstable` seeds that
    /// RNG per process, so an iteration that drew from it replays exactly
    /// when run alone, not necessarily after other iterations in one
    /// process (see [`crate::os`]).
    pub tokio_rng_draws: Option<u64>,
}

impl Sim {
    /// A world whose every random choice derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            net: NetConfig::default(),
            config: SimConfig::default(),
            faults: FaultConfig::quiet(),
            hosts: Vec::new(),
        }
    }

    /// Sets the network configuration (default: [`NetConfig::default`]).
    pub fn net(mut self, net: NetConfig) -> Self {
        self.net = net;
        self
    }

    /// Sets the iteration configuration (default: [`SimConfig::default`]).
    pub fn config(mut self, config: SimConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the faults to inject (default: [`FaultConfig::quiet`], none).
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Keeps every network event in [`SimOutcome::trace`].
    pub fn record_trace(mut self, record: bool) -> Self {
        self.config.record_trace = record;
        self
    }

    /// Adds a restartable host: `factory` runs inside the host at start and
    /// again at every [`restart`](crate::SimHandle::restart), each time with
    /// fresh state. Its future returning `Ok` leaves the tasks it spawned
    /// running; returning an error fails the iteration.
    pub fn host<F, Fut, E>(mut self, name: &str, ip: Ipv4Addr, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let factory: Factory = Arc::new(move || -> RootFuture {
            let future = factory();
            Box::pin(async move { future.await.map_err(Into::into) })
        });
        self.hosts.push(HostSpec {
            name: name.to_owned(),
            ip,
            kind: HostKind::Restartable(factory),
        });
        self
    }

    /// Adds a one-shot workload host running `future`. The iteration ends
    /// when every workload has finished (or crashed); an error fails it.
    pub fn workload<Fut, E>(mut self, name: &str, ip: Ipv4Addr, future: Fut) -> Self
    where
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.hosts.push(HostSpec {
            name: name.to_owned(),
            ip,
            kind: HostKind::Workload(Box::pin(async move { future.await.map_err(Into::into) })),
        });
        self
    }

    /// The iteration's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs the iteration on a fresh current-thread tokio runtime whose clock
    /// starts paused, until every workload has finished, something failed, or
    /// `budget` of simulated time has passed. Never hangs: a stalled
    /// iteration ends at its budget with [`SimError::Stalled`].
    ///
    /// Blocks the calling thread while the iteration runs on a fresh thread
    /// of its own, whose entropy and clocks are seeded from the iteration's
    /// seed ([`crate::os`]): std's hash keys, tokio's RNG seed, `rand`'s OS
    /// RNG, `SystemTime` and `std::time::Instant` all replay with the seed.
    /// Works the same from async code (inside another tokio runtime).
    pub fn run(self, budget: Duration) -> Result<SimOutcome, SimError> {
        let (seed, os) = (self.seed, self.config.os.clone());
        run::on_fresh_thread(seed, &os, move || run::run_here(self, budget))
            .map_err(SimError::Runtime)?
    }

    /// Runs the iteration on the calling thread, which the caller made
    /// fresh and seeded with [`run::on_fresh_thread`].
    pub(crate) fn run_on_this_thread(self, budget: Duration) -> Result<SimOutcome, SimError> {
        run::run_here(self, budget)
    }
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<_> = self
            .hosts
            .iter()
            .map(|host| (host.name.as_str(), host.ip))
            .collect();
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("net", &self.net)
            .field("config", &self.config)
            .field("faults", &self.faults)
            .field("hosts", &hosts)
            .finish()
    }
}
