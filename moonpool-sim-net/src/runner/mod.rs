//! The simulation runner: many seeds of the same hosts and workloads, with
//! the test vocabulary, invariants, replay, reports and timelines.
//!
//! A [`SimulationBuilder`] holds what every iteration simulates — hosts
//! (long-running, restartable factories), workloads (futures that end),
//! invariants, the network configuration, a budget of simulated time — and
//! how to choose seeds ([`Seeds`]) and when to stop ([`Iterations`]).
//! [`SimulationBuilder::run`] runs one iteration per seed, each on its own
//! paused current-thread runtime, and returns a [`SimulationReport`].
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Duration;
//! use moonpool_sim_net::assertions::shutdown_signal;
//! use moonpool_sim_net::invariants::{Invariant, publish};
//! use moonpool_sim_net::runner::{Iterations, SimulationBuilder};
//! use moonpool_sim_net::{SimTcpListener, SimTcpStream, always, buggify, sometimes, spawn};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
//! const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
//!
//! async fn server() -> std::io::Result<()> {
//!     let listener = SimTcpListener::bind("0.0.0.0:7000").await?;
//!     let shutdown = shutdown_signal();
//!     loop {
//!         let (mut stream, _) = tokio::select! {
//!             biased;
//!             () = shutdown.cancelled() => return Ok(()),
//!             accepted = listener.accept() => accepted?,
//!         };
//!         spawn(async move {
//!             let mut buf = [0u8; 8];
//!             while stream.read_exact(&mut buf).await.is_ok() {
//!                 if buggify!() {
//!                     tokio::time::sleep(Duration::from_millis(50)).await;
//!                 }
//!                 if stream.write_all(&buf).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//!
//! async fn client() -> std::io::Result<()> {
//!     let mut stream = SimTcpStream::connect((SERVER, 7000)).await?;
//!     for round in 0..10u64 {
//!         let sent = tokio::time::Instant::now();
//!         stream.write_all(&round.to_le_bytes()).await?;
//!         let mut reply = [0u8; 8];
//!         stream.read_exact(&mut reply).await?;
//!         always!(u64::from_le_bytes(reply) == round, "echo returns what was sent");
//!         sometimes!(sent.elapsed() > Duration::from_millis(10), "a delayed echo");
//!         publish(CLIENT, "rounds", round + 1);
//!     }
//!     Ok(())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let report = SimulationBuilder::new()
//!     .host("server", SERVER, server)
//!     .workload("client", CLIENT, client)
//!     .invariant(Invariant::new("all rounds done", |state| {
//!         match state.get::<u64>(CLIENT, "rounds") {
//!             Some(10) => Ok(()),
//!             other => Err(format!("rounds: {other:?}")),
//!         }
//!     }))
//!     .iterations(Iterations::Fixed(20))
//!     .run()?; // honours MOONPOOL_SEED, MOONPOOL_ITERATIONS, …
//! println!("{report}"); // summary, failures with replay commands, coverage table
//! report.assert_passed();
//! # Ok(())
//! # }
//! ```
//!
//! # One iteration
//!
//! 1. Hosts and workloads start; `buggify!`, `always!`, `sometimes!` and
//!    [`publish`](crate::invariants::publish) talk to the iteration's
//!    context from any task of it.
//! 2. When every workload has ended, the runner cancels
//!    [`shutdown_signal`](crate::assertions::shutdown_signal) (a
//!    `CancellationToken` hosts await to wind down) and waits until the
//!    network is quiet ([`QuiescenceConfig`]).
//! 3. Every [`Invariant`](crate::invariants::Invariant) checks the state
//!    the hosts published.
//!
//! The iteration fails, with its seed, on the first of: an `always!` that
//! is false, an invariant that returns an error, a workload or host that
//! returns an error or panics, a stall, or the budget running out. A
//! recorded failure ends the iteration at once.
//!
//! # Environment
//!
//! | variable | effect |
//! | --- | --- |
//! | `MOONPOOL_SEED=<n>` | run exactly seed `n` (decimal or `0x` hex) |
//! | `MOONPOOL_ITERATIONS=<n>` | replace the iteration count (CI small, nightly large) |
//! | `MOONPOOL_SEEDS=<a>..<b>` | run the seeds `a..b` (or `a..=b`): a shard of a sweep |
//! | `MOONPOOL_REPORT=<path>` | write the report as JSON |
//! | `MOONPOOL_TRACE=<path>` | with one seed, write its timeline as Chrome trace-event JSON |
//! | `MOONPOOL_CHECK_DETERMINISM=<n>` | run the first `n` seeds twice (`all`: every seed; `0`: none) |
//! | `MOONPOOL_JOBS=<n>` | run up to `n` iterations side by side (`auto`: every core; default 1); the report is the same |
//! | `MOONPOOL_SHARD=<k>/<n>` | run the `k`-th of `n` disjoint shards of the sweep (merge with `moonpool-report merge`) |
//!
//! An invalid value is a [`RunnerError`], never a panic. A failing seed is
//! printed on stderr with the one command that replays it, derived from how
//! the program was started — under `cargo test`,
//! `MOONPOOL_SEED=<n> cargo test -p <package> --test <target> -- <test path> --exact --include-ignored`;
//! for an example, `MOONPOOL_SEED=<n> cargo run -p <package> --example <name>`
//! (`--release` added when the binary is a release build) — or set with
//! [`SimulationBuilder::replay_command`].
//!
//! # Timelines
//!
//! `MOONPOOL_TRACE=trace.json MOONPOOL_SEED=<n> <replay command>` writes the
//! seed's events — host starts and crashes, accepts, connections,
//! deliveries, FIN/RST, and your `tracing` events — as Chrome trace-event
//! JSON with one track per host. Open it at <https://ui.perfetto.dev>
//! ("Open trace file") or in `chrome://tracing`. See [`crate::timeline`].
//!
//! # Randomized knobs
//!
//! [`SimulationBuilder::randomize_knobs`] draws each iteration's
//! configurations from the seed, FoundationDB style: the network's socket
//! buffers ([`NetConfig::randomize`](crate::NetConfig::randomize)) and
//! whatever the workloads draw through [`knobs::draw`](crate::knobs::draw)
//! (moonpool-tower's `TransportConfig::randomize`, for one). Each knob is
//! redrawn for about one seed in four, from a documented range. The report
//! carries each seed's [`knob_hashes`](SimulationReport::knob_hashes); a
//! failure carries its [`knobs`](IterationFailure::knobs) and is printed
//! with the ones that differ from the configurations the test gave
//! (`knobs 9b31…: transport.peer.queue_capacity=22 …`); the timeline shows
//! them on the runner's track. Replaying the seed draws the same knobs.
//! Off by default: turning it on changes the traces of existing seeds.
//!
//! # Determinism
//!
//! Every iteration runs on a fresh thread whose entropy and clocks are
//! seeded ([`crate::os`]): `HashMap` order, `SystemTime`, `Instant`, OS
//! randomness replay with the seed. The first
//! [`DEFAULT_DETERMINISM_SEEDS`] seeds of every run are run twice and
//! compared ([`SimulationBuilder::check_determinism_first`]); a divergence
//! names the first differing event with its simulated time. Runs that drew
//! from tokio's per-process RNG are judged by running the seed alone in new
//! processes, and failing seeds are replayed alone to confirm they fail the
//! same way there ([`SimulationBuilder::replay_failures_alone`]).
//! [`SimulationBuilder::verify_determinism`] runs one seed twice in this
//! process. `docs/determinism.md` in the repository has the whole story.

mod alone;
mod builder;
mod determinism;
mod env;
mod error;
mod iteration;
mod merge;
mod plan;
mod progress;
mod replay;
mod report;
mod run;
mod seeds;
mod workers;

pub use builder::{
    DEFAULT_BUDGET, DEFAULT_DETERMINISM_SEEDS, DEFAULT_FAILURES_REPLAYED_ALONE, QuiescenceConfig,
    SimulationBuilder,
};
pub use determinism::{DeterministicRun, Nondeterminism};
pub use env::{
    CHECK_DETERMINISM_VAR, EnvOverrides, ITERATIONS_VAR, JOBS_VAR, REPORT_VAR, SEED_VAR, SEEDS_VAR,
    SHARD_VAR, TRACE_VAR,
};
pub use error::RunnerError;
pub use merge::MergeError;
pub use replay::SEED_PLACEHOLDER;
pub use report::{IterationFailure, SimulationReport};
pub use seeds::{DEFAULT_BASE_SEED, Iterations, Seeds, derive_seed};
