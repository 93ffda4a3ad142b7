//! Errors of host control (`SimHandle::crash`, `SimHandle::restart`).

use std::net::Ipv4Addr;

/// Why a host could not be crashed or restarted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// No host has this address.
    #[error("no simulated host has address {0}")]
    UnknownHost(Ipv4Addr),
    /// The host is a one-shot workload: it has no factory to run again.
    #[error("host {name} ({ip}) is a workload and can not be restarted")]
    NotRestartable {
        /// The host's name.
        name: String,
        /// The host's address.
        ip: Ipv4Addr,
    },
    /// The iteration this handle belongs to has ended.
    #[error("the simulation iteration is over")]
    SimulationOver,
}
