//! FoundationDB-style peers, endpoints and RPC as tower services.
pub mod backoff;
pub mod reconnect;
pub use backoff::{BackoffConfig, JitteredBackoff};
pub use reconnect::{Reconnect, ReconnectLayer};
