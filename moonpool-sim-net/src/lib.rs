//! A deterministic network simulator on tokio's paused clock.
