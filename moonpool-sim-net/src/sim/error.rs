//! Why an iteration failed.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::report::WaitReport;
use crate::BoxError;
use crate::config::ConfigError;

/// Why [`Sim::run`](crate::Sim::run) did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Every task was waiting and nothing happened (no network event, no
    /// host task polled) during the final stretch of the budget: a deadlock,
    /// or a wait on something that never comes. The report names the hosts
    /// and sockets that were waiting.
    #[error("simulation stalled: {0}")]
    Stalled(Box<WaitReport>),
    /// The workloads were still busy when the budget of simulated time ran
    /// out. The report names the hosts and sockets that were waiting.
    #[error("simulation ran past its budget: {0}")]
    BudgetExceeded(Box<WaitReport>),
    /// A host's factory or workload returned an error.
    #[error("host {name} ({ip}) incarnation {incarnation} failed at {at:?}: {source}")]
    HostFailed {
        /// Stable hash of the network events until the failure.
        trace_hash: u64,
        /// The host's name.
        name: String,
        /// The host's address.
        ip: Ipv4Addr,
        /// The incarnation that failed.
        incarnation: u64,
        /// Simulated time of the failure.
        at: Duration,
        /// The error the host returned.
        #[source]
        source: BoxError,
    },
    /// A task of a host panicked.
    #[error("a task of host {name} ({ip}) panicked at {at:?}: {message}")]
    TaskPanicked {
        /// Stable hash of the network events until the panic.
        trace_hash: u64,
        /// The host's name.
        name: String,
        /// The host's address.
        ip: Ipv4Addr,
        /// Simulated time of the panic.
        at: Duration,
        /// The panic message.
        message: String,
    },
    /// A task of the simulator itself (the event driver, a chaos injector,
    /// the attrition restarter) panicked: a bug in the simulator, or a
    /// configuration it did not reject.
    #[error("the simulator's {task} panicked at {at:?}: {message}")]
    SimulatorPanicked {
        /// Stable hash of the network events until the panic.
        trace_hash: u64,
        /// Which task of the simulator.
        task: &'static str,
        /// Simulated time of the panic.
        at: Duration,
        /// The panic message.
        message: String,
    },
    /// The iteration has no workload, so it would have nothing to wait for.
    #[error("the simulation has no workload: add one with Sim::workload")]
    NoWorkload,
    /// Two hosts were given the same name.
    #[error("two hosts are named {0:?}")]
    DuplicateName(String),
    /// Two hosts were given the same address.
    #[error("two hosts have address {0}")]
    DuplicateIp(Ipv4Addr),
    /// A host was given an address no host can have (unspecified, loopback,
    /// broadcast or multicast).
    #[error("host {name:?} can not have address {ip}")]
    ReservedIp {
        /// The host's name.
        name: String,
        /// The refused address.
        ip: Ipv4Addr,
    },
    /// The network configuration is invalid.
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    /// tokio could not build the iteration's runtime.
    #[error("could not build the simulation runtime")]
    Runtime(#[source] std::io::Error),
}

impl SimError {
    /// The stable hash of the network events until the failure, for errors
    /// that happen while the iteration runs: replaying the seed must give
    /// the same error with the same hash.
    pub fn trace_hash(&self) -> Option<u64> {
        match self {
            SimError::Stalled(report) | SimError::BudgetExceeded(report) => Some(report.trace_hash),
            SimError::HostFailed { trace_hash, .. }
            | SimError::TaskPanicked { trace_hash, .. }
            | SimError::SimulatorPanicked { trace_hash, .. } => Some(*trace_hash),
            _ => None,
        }
    }
}
