//! Simulator behaviour beyond TCP conformance: hosts, crash and restart,
//! determinism, budgets and stalls, the connect/accept seams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backlog;
mod budget;
mod crash;
mod determinism;
mod errors;
mod os;
mod seams;
mod sockets;

use std::net::Ipv4Addr;

/// Address of test host `n`.
pub(crate) fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, n)
}
