//! FoundationDB-style peers, endpoints and RPC as tower services.
pub mod backoff;
pub use backoff::{BackoffConfig, JitteredBackoff};
