//! The RPC workload of the simulation suite.
//!
//! Servers serve the `probe` interface: `echo` (a tower service that
//! answers after a short delay), `flaky` (a request stream that drops some
//! promises on purpose) and `missing` (never registered). Clients call them
//! with random methods and delivery modes, each call through tower's
//! `Timeout`, and publish one [`CallRecord`] per call; servers publish what
//! they received and which promises they dropped. The [`invariants`] check
//! the two against each other once the iteration is quiet.

mod client;
mod invariants;
mod layered;
mod records;
mod server;

use std::net::Ipv4Addr;
use std::time::Duration;

use moonpool_codec::{Endpoint, NetworkAddress, Uid};
use moonpool_sim_net::{FaultConfig, HostHandle, NetConfig, SimConnector, knobs};
use moonpool_tower::executor::BoxFuture;
use moonpool_tower::interface;
use moonpool_tower::transport::{Transport, TransportBuilder, TransportConfig};

pub use client::{ClientPlan, run_calls};
pub use invariants::{Expectations, invariants};
pub use layered::{ANSWERED_KEY, LAYERED_CALLS, layered_client};
pub use records::{CallRecord, ClientLog, Method, Outcome, ServerLog};
pub use server::{serve, start_server};

/// A call: its id, and how long a flaky server holds it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Call {
    /// Unique per iteration: the caller's last address octet, then a counter.
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

/// The answer to a call: the call's id.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Answer {
    /// The id of the call answered.
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

interface! {
    /// What every server of the suite serves (method 2, `missing`, is part
    /// of the interface but never registered).
    pub mod probe {
        /// Answers after a short random delay.
        echo(Call) -> Answer = 0;
        /// Holds each call a while, then answers or drops the promise.
        flaky(Call) -> Answer = 1;
        /// Never registered: always `EndpointNotFound`.
        missing(Call) -> Answer = 2;
    }
}

/// The port every server listens on.
pub const PORT: u16 = 4500;

/// The base token of the `probe` interface.
pub const PROBE: Uid = Uid::new(0x5157_0000, 0);

/// The endpoint of `method` on the server at `ip`.
pub fn endpoint(ip: Ipv4Addr, method: Method) -> Endpoint {
    Endpoint::new(address(ip), PROBE.adjusted(method.index()))
}

/// The listening address of the node at `ip`.
pub fn address(ip: Ipv4Addr) -> NetworkAddress {
    NetworkAddress::new(ip.into(), PORT)
}

/// The faults of the suite: the simulator's chaos configuration (every
/// family on, FoundationDB-like rates), without random host crashes: the
/// scenarios crash servers themselves, where they mean to, and a client
/// that crashed could not report its calls.
pub fn faults() -> FaultConfig {
    let mut faults = FaultConfig::chaos();
    faults.attrition.enabled = false;
    faults
}

/// The network under the faults (its latency applies when the fault
/// latency model is off, as in some swarm draws).
pub fn network() -> NetConfig {
    NetConfig {
        latency: Duration::from_micros(100)..=Duration::from_millis(5),
        ..NetConfig::default()
    }
}

/// Starts the stack's background tasks as tasks of the simulated host, so
/// a crash aborts them all.
pub fn host_executor(host: HostHandle) -> impl Fn(BoxFuture) + Clone + Send + Sync + 'static {
    host.spawner()
}

/// A transport on the simulator's connector with this iteration's
/// transport knobs: the defaults, unless the simulation randomizes its
/// knobs ([`SimulationBuilder::randomize_knobs`](moonpool_sim_net::runner::SimulationBuilder::randomize_knobs)),
/// then one configuration drawn per seed and shared by every node.
pub fn transport_builder() -> TransportBuilder {
    let config = knobs::draw(
        "transport",
        TransportConfig::default(),
        TransportConfig::randomize,
    );
    Transport::builder(SimConnector::new()).config(config)
}
