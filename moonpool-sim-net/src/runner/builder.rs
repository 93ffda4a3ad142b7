//! [`SimulationBuilder`]: what a run simulates and how it chooses seeds.

use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::BoxError;
use crate::assertions::BuggifyConfig;
use crate::config::{NetConfig, SimConfig};
use crate::fault::FaultConfig;
use crate::invariants::Invariant;

use super::seeds::{Iterations, Seeds};

/// The future a host or workload factory returns, boxed.
pub(crate) type HostFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
/// A factory, called once per iteration (and per restart for hosts).
pub(crate) type HostFactory = Arc<dyn Fn() -> HostFuture + Send + Sync>;

/// A host or workload of every iteration.
#[derive(Clone)]
pub(crate) struct HostEntry {
    pub(crate) name: String,
    pub(crate) ip: Ipv4Addr,
    pub(crate) factory: HostFactory,
    /// A workload ends; a host runs until shut down or the iteration ends.
    pub(crate) workload: bool,
}

/// How the runner waits for hosts to wind down after the workloads ended
/// and before it runs the invariants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuiescenceConfig {
    /// The system is quiescent once no network event happened for this much
    /// simulated time after the shutdown signal.
    ///
    /// Default: 100 ms, a hundred times the default network's worst latency.
    pub quiet_window: Duration,
    /// Upper bound on the wait, for hosts that never go quiet (periodic
    /// pings); the invariants then run on the state as it is.
    ///
    /// Default: 5 s, longer than the stack's ping timeout (2 s).
    pub max_wait: Duration,
}

impl Default for QuiescenceConfig {
    fn default() -> Self {
        Self {
            quiet_window: Duration::from_millis(100),
            max_wait: Duration::from_secs(5),
        }
    }
}

/// Builds and runs a simulation test: the same hosts and workloads under
/// many seeds. See the [module docs](crate::runner) for the whole story.
#[derive(Clone)]
pub struct SimulationBuilder {
    pub(crate) hosts: Vec<HostEntry>,
    pub(crate) invariants: Vec<Invariant>,
    pub(crate) net: NetConfig,
    pub(crate) faults: FaultConfig,
    pub(crate) swarm: bool,
    pub(crate) sim_config: SimConfig,
    pub(crate) budget: Duration,
    pub(crate) seeds: Seeds,
    pub(crate) iterations: Iterations,
    pub(crate) expected_sometimes: Vec<String>,
    pub(crate) require_coverage: bool,
    pub(crate) buggify: BuggifyConfig,
    pub(crate) quiescence: QuiescenceConfig,
    pub(crate) replay_template: Option<String>,
    pub(crate) determinism_seeds: u64,
    pub(crate) failures_replayed_alone: usize,
    pub(crate) jobs: u64,
    pub(crate) progress: bool,
    pub(crate) print_failures: Option<bool>,
    pub(crate) randomize_knobs: bool,
}

/// How many of a run's first seeds the determinism check runs twice by
/// default: enough to catch a workload that does not replay in every test,
/// for the price of two more iterations.
pub const DEFAULT_DETERMINISM_SEEDS: u64 = 2;

/// How many failing seeds of a run are replayed alone, in a new process,
/// by default: each costs a process start and an iteration, and the first
/// few failures are the ones anybody replays.
pub const DEFAULT_FAILURES_REPLAYED_ALONE: usize = 3;

/// How many iterations run side by side unless told otherwise: one.
/// Workloads and hosts of one iteration often share state through `Arc`s
/// their factories capture, on the assumption that iterations run one after
/// another; running them side by side by default would break such tests.
/// `MOONPOOL_JOBS=auto` (or [`SimulationBuilder::jobs`]) asks for every core.
pub(crate) fn default_jobs() -> u64 {
    1
}

/// The machine's available parallelism: `MOONPOOL_JOBS=auto`.
pub(crate) fn all_cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// Default simulated-time budget of one iteration: 60 s, long enough for
/// reconnect backoffs and ping timeouts to play out many times.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

impl Default for SimulationBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SimulationBuilder {
    /// An empty simulation: no hosts, derived seeds, 100 iterations, a
    /// 60 s budget, the default network, buggify on.
    pub fn new() -> Self {
        Self {
            hosts: Vec::new(),
            invariants: Vec::new(),
            net: NetConfig::default(),
            faults: FaultConfig::quiet(),
            swarm: false,
            sim_config: SimConfig::default(),
            budget: DEFAULT_BUDGET,
            seeds: Seeds::default(),
            iterations: Iterations::default(),
            expected_sometimes: Vec::new(),
            require_coverage: false,
            buggify: BuggifyConfig::default(),
            quiescence: QuiescenceConfig::default(),
            replay_template: None,
            determinism_seeds: DEFAULT_DETERMINISM_SEEDS,
            failures_replayed_alone: DEFAULT_FAILURES_REPLAYED_ALONE,
            jobs: default_jobs(),
            progress: true,
            print_failures: None,
            randomize_knobs: false,
        }
    }

    /// Adds a long-running, restartable host. `factory` runs at the start
    /// of each iteration and at each restart; it should await
    /// [`shutdown_signal`](crate::assertions::shutdown_signal) to wind down
    /// once the workloads have ended. An error fails the iteration.
    pub fn host<F, Fut, E>(self, name: &str, ip: Ipv4Addr, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.entry(name, ip, factory, false)
    }

    /// Adds a workload: `factory` makes the future one iteration runs on
    /// this host. The iteration's workloads all ending starts shutdown; an
    /// error fails the iteration.
    pub fn workload<F, Fut, E>(self, name: &str, ip: Ipv4Addr, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.entry(name, ip, factory, true)
    }

    fn entry<F, Fut, E>(mut self, name: &str, ip: Ipv4Addr, factory: F, workload: bool) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let factory: HostFactory = Arc::new(move || -> HostFuture {
            let future = factory();
            Box::pin(async move { future.await.map_err(Into::into) })
        });
        self.hosts.push(HostEntry {
            name: name.to_owned(),
            ip,
            factory,
            workload,
        });
        self
    }

    /// Adds an invariant over the state hosts publish.
    pub fn invariant(mut self, invariant: Invariant) -> Self {
        self.invariants.push(invariant);
        self
    }

    /// The network configuration of every iteration (default:
    /// [`NetConfig::default`]); faults are set with [`faults`](Self::faults).
    pub fn net(mut self, net: NetConfig) -> Self {
        self.net = net;
        self
    }

    /// The faults every iteration injects (default: [`FaultConfig::quiet`]).
    /// See `docs/fault-injection.md`.
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Swarm mode: each iteration runs [`FaultConfig::swarm`] of the
    /// configured faults with its seed, so fault families vary per seed
    /// (default: off).
    pub fn swarm(mut self, swarm: bool) -> Self {
        self.swarm = swarm;
        self
    }

    /// The simulator's per-iteration tunables (stall window…). Trace
    /// recording is switched on by the runner when it needs the trace.
    pub fn sim_config(mut self, config: SimConfig) -> Self {
        self.sim_config = config;
        self
    }

    /// Simulated time one iteration's workloads may take (default
    /// [`DEFAULT_BUDGET`]); the shutdown wait comes on top.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Where seeds come from (default: derived from
    /// [`DEFAULT_BASE_SEED`](super::DEFAULT_BASE_SEED)).
    pub fn seeds(mut self, seeds: Seeds) -> Self {
        self.seeds = seeds;
        self
    }

    /// When the run stops (default: 100 fixed iterations).
    pub fn iterations(mut self, iterations: Iterations) -> Self {
        self.iterations = iterations;
        self
    }

    /// Declares `sometimes!` names up front, so one never reached still
    /// counts as missing.
    pub fn expect_sometimes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expected_sometimes
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Fails the run if some registered or declared `sometimes!` was never
    /// seen (default: off; always on with
    /// [`Iterations::UntilAllSometimes`]). Not applied when replaying one
    /// seed or a slice of seeds.
    pub fn require_full_coverage(mut self, require: bool) -> Self {
        self.require_coverage = require;
        self
    }

    /// How `buggify!` behaves (default: on, 25% of sites, fire at 25%).
    pub fn buggify(mut self, config: BuggifyConfig) -> Self {
        self.buggify = config;
        self
    }

    /// How the runner waits for quiescence before the invariants.
    pub fn quiescence(mut self, config: QuiescenceConfig) -> Self {
        self.quiescence = config;
        self
    }

    /// Overrides the replay command printed for a failing seed;
    /// `{seed}` is replaced by the seed, for example
    /// `"MOONPOOL_SEED={seed} cargo nextest run -p my-sims echo_sweep"`.
    pub fn replay_command(mut self, template: impl Into<String>) -> Self {
        self.replay_template = Some(template.into());
        self
    }

    /// Runs every seed twice (`true`) or none (`false`) for the
    /// determinism check; see [`check_determinism_first`](Self::check_determinism_first).
    pub fn check_determinism(mut self, check: bool) -> Self {
        self.determinism_seeds = if check { u64::MAX } else { 0 };
        self
    }

    /// Runs the first `seeds` seeds of the run twice, each time on a fresh
    /// seeded thread, and fails a seed whose two runs differ in their event
    /// traces (which cover every delivered byte) or in how they ended,
    /// naming the first differing event (default:
    /// [`DEFAULT_DETERMINISM_SEEDS`]; `MOONPOOL_CHECK_DETERMINISM`
    /// overrides it).
    ///
    /// When the two runs differ, the seed is run twice more, each alone in
    /// a new process of this program: if those agree, the difference came
    /// from tokio's thread RNG, which a default build seeds per process
    /// (see [`crate::os`]); the seed replays alone, the report lists it in
    /// [`SimulationReport::replays_only_alone`](super::SimulationReport::replays_only_alone),
    /// and the check passes. Otherwise the seed fails with the first
    /// difference between the processes.
    pub fn check_determinism_first(mut self, seeds: u64) -> Self {
        self.determinism_seeds = seeds;
        self
    }

    /// Replays up to `count` failing seeds of a run alone, each in a new
    /// process of this program, as their replay command will, and says in
    /// the failure when the seed does not fail the same way alone (default:
    /// [`DEFAULT_FAILURES_REPLAYED_ALONE`]; 0 turns it off).
    pub fn replay_failures_alone(mut self, count: usize) -> Self {
        self.failures_replayed_alone = count;
        self
    }

    /// Runs up to `jobs` iterations side by side, each on a thread of its
    /// own (default: 1; `MOONPOOL_JOBS=<n>` or `MOONPOOL_JOBS=auto`, every
    /// core, override it; [`all_cores`](Self::all_cores) here). The report —
    /// failures, coverage, trace hashes, fault counts — is the same whatever
    /// `jobs` is: iterations are absorbed in seed order, and a run that
    /// stops once every `sometimes!` is seen stops at the same seed.
    ///
    /// Side by side, iterations must not share state: state a workload
    /// hands its hosts through an `Arc` the factories capture must be kept
    /// per iteration (each iteration runs on a thread of its own, so a map
    /// keyed by `std::thread::current().id()` does it), and statics
    /// interleave.
    pub fn jobs(mut self, jobs: u64) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// [`jobs`](Self::jobs) with the machine's available parallelism.
    pub fn all_cores(self) -> Self {
        self.jobs(all_cores())
    }

    /// Draws each iteration's knobs from the seed (default: off): the
    /// network's [`NetConfig`] through [`NetConfig::randomize`], and every
    /// configuration the workloads draw through
    /// [`knobs::draw`](crate::knobs::draw). The knobs of each seed are
    /// hashed into [`SimulationReport::knob_hashes`](super::SimulationReport::knob_hashes)
    /// and written into a failing seed's
    /// [`IterationFailure::knobs`](super::IterationFailure::knobs) and its
    /// timeline; replaying the seed draws them again. Off, every
    /// configuration is the one given, and traces are those of a build
    /// without randomized knobs. See [`crate::knobs`].
    pub fn randomize_knobs(mut self, randomize: bool) -> Self {
        self.randomize_knobs = randomize;
        self
    }

    /// Shows the progress line on stderr when it is a terminal (default:
    /// on).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Prints each failing seed with its replay command on stderr as it is
    /// found (default: when stderr is a terminal and the run is not inside
    /// a libtest test, whose captured output would show each failure twice:
    /// the report, and the error of [`run`](Self::run), list them anyway).
    pub fn print_failures(mut self, print: bool) -> Self {
        self.print_failures = Some(print);
        self
    }
}

impl fmt::Debug for SimulationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<_> = self
            .hosts
            .iter()
            .map(|host| (host.name.as_str(), host.ip, host.workload))
            .collect();
        f.debug_struct("SimulationBuilder")
            .field("hosts", &hosts)
            .field("invariants", &self.invariants)
            .field("net", &self.net)
            .field("faults", &self.faults)
            .field("swarm", &self.swarm)
            .field("budget", &self.budget)
            .field("seeds", &self.seeds)
            .field("iterations", &self.iterations)
            .field("buggify", &self.buggify)
            .field("determinism_seeds", &self.determinism_seeds)
            .field("failures_replayed_alone", &self.failures_replayed_alone)
            .field("jobs", &self.jobs)
            .field("randomize_knobs", &self.randomize_knobs)
            .finish_non_exhaustive()
    }
}

impl SimulationBuilder {
    /// Fingerprint of this test's configuration, with `test` (its replay
    /// command template) naming which test it is: FNV-1a 64 over the
    /// `Debug` text of every setting that shapes an iteration.
    pub(crate) fn fingerprint(&self, test: &str) -> String {
        let hosts: Vec<_> = self
            .hosts
            .iter()
            .map(|host| (host.name.as_str(), host.ip, host.workload))
            .collect();
        let text = format!(
            "{test}\n{hosts:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            self.invariants,
            self.net,
            self.faults,
            self.swarm,
            self.sim_config,
            self.budget,
            self.seeds,
            self.iterations,
            self.buggify,
            self.quiescence,
        );
        let mut hasher = crate::trace::Fnv1a64::new();
        hasher.write(text.as_bytes());
        // Only when on, so the fingerprints of existing tests stay put.
        if self.randomize_knobs {
            hasher.write(b"\nrandomize_knobs");
        }
        format!("{:016x}", hasher.finish())
    }
}
