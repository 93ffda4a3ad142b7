//! The TCP conformance suite: every test body is generic over the network and
//! runs twice, against real tokio TCP on 127.0.0.1 and against the simulator
//! (two hosts, three seeds, the first run twice to check determinism). What
//! passes here is what "runs like TCP" means.
//!
//! Where the kernel's behaviour depends on timing, the test says so and
//! asserts only what is guaranteed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod close;
mod connect;
mod options;
mod reset;
mod socket;
mod stream_api;
mod stream_bytes;
mod tokio_compat;
