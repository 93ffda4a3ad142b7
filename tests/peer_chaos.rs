//! The peer under connection faults, many seeds: a client node sends
//! numbered reliable and unreliable packets to a server node through
//! connections that flip bits (both ways), go half-open, stall their writes
//! or reset, with the server kept up or crashed and restarted.
//!
//! Checked on every delivery (see `support/peer_workload.rs`): reliable
//! packets arrive at least once, in send order on each connection, never
//! with a gap, twice only on two different connections; unreliable packets
//! arrive at most once. Every run must take the reconnection, checksum
//! failure, connection-monitor (ping timeout or frame stall) and queue-full
//! backpressure paths (full coverage).
//!
//! Replay a failing seed with the command the runner prints
//! (`MOONPOOL_SEED=<n> cargo test -p moonpool-tests --test peer_chaos -- <test> --exact`);
//! `MOONPOOL_ITERATIONS` scales a sweep.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/faulty_io.rs"]
mod faulty_io;
#[path = "support/iteration_slot.rs"]
mod iteration_slot;
#[path = "support/peer_client.rs"]
mod peer_client;
#[path = "support/peer_workload.rs"]
mod peer_workload;
#[path = "support/wire_audit.rs"]
mod wire_audit;

use std::time::Duration;

use faulty_io::FaultMix;
use moonpool_sim_net::runner::Iterations;
use peer_client::simulation;
use peer_workload::Scenario;

/// The server stays up; every other connection carries a fault.
const SERVER_UP: Scenario = Scenario {
    packets: 300,
    crashes: 0,
    faults: FaultMix::CHAOS,
    queue_capacity: 8,
    chaos_for: None,
    settle: Duration::from_secs(40),
};

/// As [`SERVER_UP`], and the server crashes and restarts twice.
const SERVER_CRASHES: Scenario = Scenario {
    crashes: 2,
    ..SERVER_UP
};

fn run(scenario: Scenario, iterations: u64) {
    let report = simulation(scenario)
        .iterations(Iterations::Fixed(iterations))
        .run()
        .unwrap();
    println!("{report}");
    report.assert_passed();
}

#[test]
fn delivery_guarantees_hold_under_connection_faults_with_the_server_up() {
    run(SERVER_UP, 200);
}

#[test]
fn delivery_guarantees_hold_under_connection_faults_and_server_crashes() {
    run(SERVER_CRASHES, 200);
}

#[test]
fn peer_fault_scenarios_are_deterministic() {
    for scenario in [SERVER_UP, SERVER_CRASHES] {
        let report = simulation(scenario)
            .require_full_coverage(false)
            .check_determinism(true)
            .iterations(Iterations::Fixed(3))
            .run()
            .unwrap();
        report.assert_passed();
    }
}

#[test]
#[ignore = "long sweep: cargo test -p moonpool-tests --test peer_chaos -- --ignored"]
fn delivery_guarantees_hold_under_connection_faults_for_a_thousand_seeds() {
    run(SERVER_UP, 1000);
    run(SERVER_CRASHES, 1000);
}

/// Regression: a liveness bug this suite found (seed 1538793403134403678
/// of the server-up scenario). A flipped
/// bit in a received frame's length field, which the CRC does not cover,
/// makes the decoder wait for a frame that never ends. The monitor counted
/// raw bytes as life, so the remote's pongs, swallowed by the phantom frame,
/// kept the connection up forever: nothing more was decoded on it (here the
/// server's acknowledgements) and nothing was resent. A frame that has begun
/// and does not complete within `PeerConfig::max_frame_stall_intervals` ping
/// intervals now fails the connection, whether bytes keep arriving or not;
/// the run must take that path.
#[test]
fn a_flipped_length_field_does_not_leave_a_zombie_connection() {
    let report = simulation(Scenario {
        faults: FaultMix::LENGTH_FLIPS,
        ..SERVER_UP
    })
    .expect_sometimes(["peer frame stall"])
    .iterations(Iterations::Fixed(20))
    .run()
    .unwrap();
    println!("{report}");
    report.assert_passed();
}
