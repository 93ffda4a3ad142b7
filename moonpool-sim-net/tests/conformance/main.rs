//! The TCP conformance suite: every test body is generic over the network and
//! runs twice, against real tokio TCP on 127.0.0.1 and against the simulator
//! (a few seeds). What passes here is what "runs like TCP" means.
//!
//! Where the simulator can not match the kernel (timing, kernel tunables),
//! the test says so where it matters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod close;
mod connect;
mod stream_bytes;
mod tokio_compat;
