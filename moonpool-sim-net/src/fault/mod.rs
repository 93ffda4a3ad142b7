//! Fault injection: FoundationDB's sim2 catalogue and more, as plain data.
//!
//! - [`FaultConfig`] (in `config`): every family with its switch and rates;
//!   [`FaultConfig::quiet`], [`FaultConfig::chaos`], [`FaultConfig::swarm`].
//! - [`FaultKind`] and [`FaultCounts`] (in `kind`): what fired, how often.
//! - `state`: the per-iteration fault state, one RNG stream per family.
//! - `hold`: clogs and partitions applied at delivery, connection timeouts.
//! - `chaos`: the background tasks that inject clogs, partitions, attrition.
//! - `script`: the scripted API on [`SimHandle`](crate::SimHandle), the
//!   drifted clock [`timer`] and [`buggified_sleep`].
//!
//! The per-packet hooks live where the packets are: latency and loss in
//! `net::connection::transmit`, bit flips in `net::deliver`, short I/O and
//! random close in `net::io`, connect failures in `net::listen`, crash modes
//! in `host::lifecycle`. `docs/fault-injection.md` is the catalogue.

pub(crate) mod chaos;
mod config;
mod hold;
mod kind;
mod script;
mod state;

pub use config::{
    AttritionFaults, BitFlipFaults, BuggifiedDelayFaults, ClockFaults, ClogFaults, CloseFaults,
    ConnectFailure, ConnectFaults, FaultConfig, LatencyFaults, LossFaults, PartitionFaults,
    ShortIoFaults,
};
pub use kind::{FaultCounts, FaultKind};
pub use script::{CloseKind, buggified_sleep, timer};
pub(crate) use state::{Block, FaultState};

/// How a crashed host's sockets end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Abruptly: every socket sends RST; peers see `ConnectionReset`.
    Reset,
    /// The machine vanishes: no FIN, no RST on the connections it had open.
    /// Peers' connections are half-open: their writes succeed until the
    /// send buffer fills, their reads block, until the connection timeout
    /// fails them with `TimedOut` (or the host restarts and its kernel
    /// answers with RST).
    ///
    /// Only those are silent: connections queued in its listeners but
    /// never accepted are reset, its own connect still in progress answers
    /// the handshake reply with a RST, and while it is down a connection
    /// attempt to it is refused, as with [`CrashMode::Reset`].
    Vanish,
    /// The process exits: sockets close as on drop (FIN after the bytes
    /// already written, RST where unread data is left).
    Graceful,
}
