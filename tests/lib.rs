//! Shared workloads and invariants for the cross-crate simulation suite.
