//! Shared workloads and invariants for the cross-crate simulation suite.
//!
//! - [`rpc`]: the RPC workload — a server with a well-behaved, a flaky and
//!   a missing method, clients that call them through tower's `Timeout`,
//!   the records both sides publish, and the invariants checked across
//!   hosts.

pub mod rpc;
