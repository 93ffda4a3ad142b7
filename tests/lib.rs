//! Shared workloads and invariants for the cross-crate simulation suite.
//!
//! - [`rpc`]: the RPC workload — a server with a well-behaved, a flaky and
//!   a missing method, clients that call them through tower's `Timeout`,
//!   the records both sides publish, and the invariants checked across
//!   hosts.
//! - [`grpc`]: a one-method gRPC service written as tonic's generated code
//!   would be, for the suite's tonic-over-the-simulator tests.

pub mod grpc;
pub mod rpc;
