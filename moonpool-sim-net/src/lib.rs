//! A deterministic network simulator on tokio's paused clock.
//!
//! A simulation iteration is a world of hosts, addressed by IPv4 address,
//! connected by a simulated TCP network whose streams implement tokio's
//! `AsyncRead` and `AsyncWrite`. Unchanged tokio code — `Framed`,
//! `tokio::io::split`, `tokio::time::timeout`, tower's `Timeout` — runs on it,
//! on simulated time that costs no wall time when idle, and every run of the
//! same seed makes the same choices in the same order.
//!
//! Determinism does not rest on your code following rules: each iteration
//! runs on a fresh thread whose entropy and clocks are seeded ([`os`]), so
//! std's `HashMap` order, `SystemTime::now()`, `std::time::Instant`, OS
//! randomness (the `getrandom` crate, `rand`, `uuid`) and third-party code
//! that uses them replay with the seed (Linux with glibc; see
//! `docs/determinism.md` for what still escapes). The runner checks the
//! first seeds of every run twice and replays failing seeds alone, in a new
//! process, before it reports them.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Duration;
//! use moonpool_sim_net::{Sim, SimTcpListener, SimTcpStream, spawn};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let server_ip = Ipv4Addr::new(10, 0, 0, 1);
//! let outcome = Sim::new(7)
//!     // A restartable host: the factory runs at start and after each restart.
//!     .host("echo", server_ip, || async {
//!         let listener = SimTcpListener::bind("0.0.0.0:9000").await?;
//!         loop {
//!             let (mut stream, _peer) = listener.accept().await?;
//!             // Tasks spawned through the host belong to it, and die with it.
//!             spawn(async move {
//!                 let mut buf = [0u8; 1024];
//!                 while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                     if stream.write_all(&buf[..n]).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!         }
//!         #[allow(unreachable_code)]
//!         Ok::<(), std::io::Error>(())
//!     })
//!     // A workload: the iteration ends when every workload has finished.
//!     .workload("client", Ipv4Addr::new(10, 0, 0, 2), async move {
//!         // Host names resolve through the simulation's host table.
//!         let mut stream = SimTcpStream::connect("echo:9000").await?;
//!         for round in 0..10u64 {
//!             stream.write_all(&round.to_le_bytes()).await?;
//!             let mut reply = [0u8; 8];
//!             // Bytes may arrive cut at any point; read_exact reassembles.
//!             stream.read_exact(&mut reply).await?;
//!             assert_eq!(u64::from_le_bytes(reply), round);
//!         }
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .run(Duration::from_secs(60))
//!     .expect("the iteration completes");
//!
//! // Same seed, same workload: same events, same hash.
//! println!("{} events, trace {:016x}, {:?} simulated", outcome.events, outcome.trace_hash, outcome.sim_elapsed);
//! ```
//!
//! # Map
//!
//! - [`sim`]: one iteration — [`Sim`] (builder and `run`), [`SimOutcome`],
//!   [`SimError`] with its [`WaitReport`] of what was waiting.
//! - [`host`]: hosts — [`SimHandle`] (crash, restart, time, seeded RNG
//!   streams, name lookup), [`HostHandle`] and [`spawn`] (the host-scoped
//!   executor).
//! - [`tcp`]: simulated TCP with tokio's API — [`SimTcpStream`] (and its
//!   halves), [`SimTcpListener`], [`SimTcpSocket`], [`SimIncoming`] (the
//!   accept `Stream`; [`SimTcpListenerStream`] yields plain streams),
//!   [`SimConnector`] (a `tower::MakeConnection<SocketAddr>`).
//! - `http` (cargo features `hyper` and `tonic`, off by default): hyper's and
//!   tonic's seams over simulated TCP — `SimHttpConnector` (a
//!   `Service<Uri>`), `hyper::rt::Executor` for [`HostHandle`], tonic's
//!   `Connected` for [`SimTcpStream`]; with [`SimTcpListenerStream`] as the
//!   accept stream.
//! - [`config`]: [`NetConfig`], [`SimConfig`] and [`OsConfig`], every
//!   tunable number.
//! - [`os`]: the simulated operating system — seeded entropy and simulated
//!   clocks for every line of code on an iteration's thread (`HashMap`
//!   order, `SystemTime`, `Instant`, OS randomness replay with the seed).
//! - [`trace`]: [`NetEvent`], [`TraceRecord`], and the stable trace hash.
//! - [`fault`]: fault injection — [`FaultConfig`] (quiet, chaos, swarm),
//!   [`FaultKind`]/[`FaultCounts`], [`CrashMode`], [`CloseKind`], the
//!   drifted clock [`timer`], [`buggified_sleep`]; the scripted API is on
//!   [`SimHandle`] (`partition`, `isolate`, `clog_*`, `heal`,
//!   `close_connections`, `crash_with`). See `docs/fault-injection.md`.
//! - [`runner`]: many seeds of a simulation —
//!   [`SimulationBuilder`](runner::SimulationBuilder) (hosts, workloads,
//!   invariants, seeds, iterations), the `MOONPOOL_*` environment, replay
//!   commands, the determinism check, and the
//!   [`SimulationReport`](runner::SimulationReport).
//! - [`assertions`]: the test vocabulary — [`buggify!`], [`always!`],
//!   [`sometimes!`] — and the shutdown signal.
//! - [`invariants`]: state hosts [`publish`](invariants::publish) and the
//!   [`Invariant`](invariants::Invariant)s that check it.
//! - [`timeline`]: one seed's events as Chrome trace-event JSON for
//!   Perfetto (`MOONPOOL_TRACE`), and a `tracing` layer for your events.
//!
//! # Simulation tests
//!
//! A test builds a [`SimulationBuilder`](runner::SimulationBuilder) and
//! calls `run()`: one iteration per seed, `always!`/`sometimes!` and
//! invariants checked, and a failing seed printed with the command that
//! replays it (`MOONPOOL_SEED=<n> cargo test … --exact`). `MOONPOOL_ITERATIONS`
//! scales a sweep, `MOONPOOL_SEEDS=a..b` shards it, `MOONPOOL_REPORT` writes
//! the report as JSON, and `MOONPOOL_TRACE` writes one seed's timeline.
//! [`SimulationBuilder::randomize_knobs`](runner::SimulationBuilder::randomize_knobs)
//! draws each seed's configurations from documented ranges ([`knobs`]),
//! so a failing seed names the knobs it ran with.
//! The [`runner`] module has a complete example.
//!
//! # Guarantees
//!
//! - **Determinism.** Same seed, same workload: the same network events in
//!   the same order at the same simulated times, hence the same
//!   [`SimOutcome::trace_hash`], provided user code follows the rules of
//!   `docs/determinism.md` (tokio time only, RNG streams from
//!   [`SimHandle::host_rng`], no `HashMap` iteration, spawn through the host,
//!   `biased;` selects).
//! - **No hangs.** Every iteration has a budget of simulated time; a stalled
//!   or runaway iteration ends with an error naming the waiting hosts and
//!   sockets.
//! - **Crashes are total.** [`SimHandle::crash`] aborts every task of the host
//!   and resets every socket; nothing of a dead incarnation runs again.
//! - **Time.** Simulated time is `tokio::time::Instant` on a paused clock,
//!   which tokio's timer wheel advances in steps of 1 ms.
//!
//! # Where the simulated TCP differs from a kernel's
//!
//! The conformance suite (`tests/conformance`) runs the same bodies against
//! kernel TCP through tokio and against the simulator (two hosts, several
//! seeds): resets, EOF, half-close, errors after a reset, buffer sizes,
//! backlog, readiness and the whole `TcpStream`/`TcpListener`/`TcpSocket`
//! API agree. These differences are deliberate:
//!
//! - packets become visible at the first 1 ms tick at or after their drawn
//!   arrival time (tokio's timer resolution), in drawn order;
//! - window updates and ACKs are instantaneous: when the receiver reads, the
//!   sender may transmit at once, and a segment leaves the sender's buffer
//!   when it arrives;
//! - buffers have fixed sizes (no autotuning): by default the size Linux's
//!   autotuning reaches on loopback for the send buffer (4 MiB) and the
//!   initial receive buffer (128 KiB), see [`NetConfig::send_buffer`];
//! - readiness is level-triggered: `ready()` asks the simulated kernel each
//!   time, where tokio keeps a readiness until a call returns `WouldBlock`;
//!   so after `writable()` a `try_write` never spuriously blocks here;
//! - a non-zero `SO_LINGER` never blocks the dropping thread;
//! - there is no `TIME_WAIT`: a port is reusable once both ends have closed;
//! - only IPv4 is simulated: `SimTcpSocket::new_v6` and IPv6 addresses fail
//!   with `Unsupported`/`AddrNotAvailable`; there are no file descriptors
//!   (`from_std`, `into_std`, raw-fd traits), and `try_io`'s closure can not
//!   make system calls;
//! - TTL, `TCP_NODELAY` and `SO_KEEPALIVE` are kept and read back, but
//!   nothing in the simulated network depends on them;
//! - an empty read returns at once, where tokio's `TcpStream` first waits for
//!   readability; both return `Ok(0)` without consuming anything.

pub mod config;
pub mod fault;
pub mod host;
#[cfg(feature = "hyper")]
pub mod http;
mod instant;
pub(crate) mod net;
pub mod os;
mod seed;
pub mod sim;
pub mod tcp;
pub mod trace;
pub(crate) mod world;

pub use config::{BufferLimits, ConfigError, NetConfig, OsConfig, SimConfig};
pub use fault::{
    AttritionFaults, BitFlipFaults, BuggifiedDelayFaults, ClockFaults, ClogFaults, CloseFaults,
    CloseKind, ConnectFailure, ConnectFaults, CrashMode, FaultConfig, FaultCounts, FaultKind,
    LatencyFaults, LossFaults, PartitionFaults, ShortIoFaults, buggified_sleep, timer,
};
pub use host::{HostError, HostHandle, HostInfo, SimHandle, handle, spawn};
pub use sim::{
    HostReport, Sim, SimError, SimOutcome, SocketReport, WaitReport, WorkloadReport, WorkloadStatus,
};
pub use tcp::{
    ConnectFuture, OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, SimConnector,
    SimIncoming, SimTcpListener, SimTcpListenerStream, SimTcpSocket, SimTcpStream, ToSimAddr,
    WriteHalf,
};
pub use trace::{EventTrace, Fnv1a64, NetEvent, TraceRecord, segment_digest};

/// The error type host futures may return (anything `Into<BoxError>`:
/// `io::Error`, `String`, your own error types).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

// The runner and its test vocabulary.
pub mod assertions;
pub mod invariants;
pub mod knobs;
pub mod runner;
pub mod timeline;
