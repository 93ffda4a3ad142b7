//! What clients and servers publish: one record per call, and each server
//! incarnation's view.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use moonpool_tower::peer::Delivery;
use moonpool_tower::rpc::RpcError;
use tower::BoxError;

/// A method of the `probe` interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// Registered as a tower service; answers every call.
    Echo,
    /// Registered as a request stream; drops some promises.
    Flaky,
    /// Never registered.
    Missing,
}

impl Method {
    /// The method's index in the interface.
    pub const fn index(self) -> u32 {
        match self {
            Self::Echo => 0,
            Self::Flaky => 1,
            Self::Missing => 2,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still waiting (never true once the workload has ended).
    Pending,
    /// The answer arrived.
    Answered {
        /// The id the answer carries.
        id: u64,
    },
    /// `RpcError::BrokenPromise`.
    BrokenPromise,
    /// `RpcError::EndpointNotFound`.
    EndpointNotFound,
    /// `RpcError::MaybeDelivered`.
    MaybeDelivered,
    /// tower's `Timeout` fired.
    TimedOut,
    /// Anything else (its description): never expected.
    Other(String),
}

impl Outcome {
    /// Classifies the result of a call through `Timeout`.
    pub fn of(result: Result<super::Answer, BoxError>) -> Self {
        match result {
            Ok(answer) => Self::Answered { id: answer.id },
            Err(error) if error.is::<tower::timeout::error::Elapsed>() => Self::TimedOut,
            Err(error) => match error.downcast_ref::<RpcError>() {
                Some(RpcError::BrokenPromise { .. }) => Self::BrokenPromise,
                Some(RpcError::EndpointNotFound { .. }) => Self::EndpointNotFound,
                Some(RpcError::MaybeDelivered { .. }) => Self::MaybeDelivered,
                _ => Self::Other(error.to_string()),
            },
        }
    }

    /// A short name, for counting.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Answered { .. } => "answered",
            Self::BrokenPromise => "broken promise",
            Self::EndpointNotFound => "endpoint not found",
            Self::MaybeDelivered => "maybe delivered",
            Self::TimedOut => "timed out",
            Self::Other(_) => "other",
        }
    }
}

/// One call, as its client saw it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The call's id.
    pub id: u64,
    /// The server called.
    pub server: Ipv4Addr,
    /// The method called.
    pub method: Method,
    /// Reliable or unreliable.
    pub delivery: Delivery,
    /// Simulated time at the call, since the iteration started: once the
    /// service was ready, where tower's `Timeout` starts timing. Waiting
    /// for readiness (the peer's queue full) is backpressure, which no
    /// timeout bounds; it lasts long when a seed draws a tiny
    /// `queue_capacity` (see `SimulationBuilder::randomize_knobs`).
    pub started: Duration,
    /// Simulated time at the resolution.
    pub ended: Duration,
    /// The call's timeout.
    pub timeout: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// How many times it resolved (the invariant wants exactly 1).
    pub resolutions: u32,
}

/// A client's calls, by id. Published under the key [`ClientLog::KEY`].
#[derive(Debug, Clone, Default)]
pub struct ClientLog {
    /// Every call the client made.
    pub calls: BTreeMap<u64, CallRecord>,
    /// How many calls the client planned.
    pub planned: u64,
}

impl ClientLog {
    /// The published key.
    pub const KEY: &'static str = "rpc/client";
}

/// What one incarnation of a server saw. Published under
/// `rpc/server/<incarnation>`.
#[derive(Debug, Clone, Default)]
pub struct ServerLog {
    /// Ids of the calls received (both methods).
    pub received: BTreeSet<u64>,
    /// Ids of the calls whose promise the server dropped on purpose.
    pub dropped: BTreeSet<u64>,
}

impl ServerLog {
    /// The published key prefix.
    pub const PREFIX: &'static str = "rpc/server/";
}
