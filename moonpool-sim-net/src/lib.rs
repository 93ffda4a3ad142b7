//! A deterministic network simulator on tokio's paused clock.

// The runner and its test vocabulary.
pub mod assertions;
pub mod invariants;
pub mod runner;
pub mod timeline;
