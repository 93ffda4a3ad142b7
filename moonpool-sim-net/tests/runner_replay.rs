//! A failing seed is found by a sweep and replayed by `MOONPOOL_SEED`, with
//! the same failure and the same event trace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod runner_support;

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use moonpool_sim_net::runner::{
    EnvOverrides, RunnerError, Seeds, SimulationBuilder, SimulationReport,
};
use moonpool_sim_net::{NetConfig, SimTcpStream, always};
use runner_support::{PORT, SERVER, echo_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// The sweep's seeds: enough that some fail and some pass.
const SWEEP: std::ops::Range<u64> = 0..24;
/// The test the replay runs in a child process, through the environment.
const ENTRY_POINT: &str = "flaky_echo_entry_point";

/// Fails on purpose for the seeds whose network draws (latency up to 4 ms
/// each way, in this test's network) make some round trip take 7 ms or
/// more: about 60% of seeds.
async fn impatient_client() -> std::io::Result<()> {
    let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
    for round in 0..5_u64 {
        let started = tokio::time::Instant::now();
        stream.write_all(&round.to_le_bytes()).await?;
        let mut reply = [0u8; 8];
        stream.read_exact(&mut reply).await?;
        let rtt = started.elapsed();
        always!(
            rtt < Duration::from_millis(7),
            "round trip under 7 ms",
            "round {round} took {rtt:?}"
        );
    }
    Ok(())
}

fn flaky_sim() -> SimulationBuilder {
    SimulationBuilder::new()
        .host("server", SERVER, echo_server)
        .workload("client", CLIENT, impatient_client)
        .net(NetConfig {
            latency: Duration::from_micros(100)..=Duration::from_millis(4),
            ..NetConfig::default()
        })
        .seeds(Seeds::Range(SWEEP))
        .budget(Duration::from_secs(10))
        .progress(false)
}

/// The entry point a developer replays: honours `MOONPOOL_*`. Ignored in
/// the normal suite (its sweep fails on purpose); the replay test below
/// runs it in a child process with `MOONPOOL_SEED` set.
#[test]
#[ignore = "run by replaying_through_the_environment_gives_the_same_failure"]
fn flaky_echo_entry_point() -> Result<(), RunnerError> {
    if std::env::var_os("MOONPOOL_SEED").is_none() {
        // Run directly (`--ignored`): the sweep fails some seeds on purpose.
        let report = flaky_sim().print_failures(false).run_report()?;
        assert!(!report.failures.is_empty(), "some seeds fail on purpose");
        return Ok(());
    }
    // What a user writes: a failing seed fails the test through `?`.
    flaky_sim().run()?;
    Ok(())
}

fn sweep() -> SimulationReport {
    flaky_sim()
        .print_failures(false)
        .run_report_with(&EnvOverrides::default())
        .unwrap()
}

#[test]
fn the_sweep_fails_for_some_seeds_only() {
    let report = sweep();
    assert_eq!(report.iterations, SWEEP.end);
    assert!(
        !report.failures.is_empty(),
        "no seed failed: the test workload is too patient"
    );
    assert!(
        report.failures.len() < SWEEP.end as usize,
        "every seed failed"
    );
    for failure in &report.failures {
        assert!(
            failure.message.contains("round trip under 7 ms"),
            "{}",
            failure.message
        );
    }
}

#[test]
fn replaying_a_failing_seed_gives_the_same_failure_and_trace() {
    let sweep = sweep();
    let failure = &sweep.failures[0];
    let replay = flaky_sim()
        .print_failures(false)
        .run_report_with(&EnvOverrides {
            seed: Some(failure.seed),
            ..EnvOverrides::default()
        })
        .unwrap();
    assert_eq!(replay.iterations, 1);
    assert_eq!(replay.failures.len(), 1);
    assert_eq!(replay.failures[0].seed, failure.seed);
    assert_eq!(replay.failures[0].message, failure.message);
    assert_eq!(
        replay.trace_hashes[&failure.seed],
        sweep.trace_hashes[&failure.seed]
    );
}

#[test]
fn the_replay_command_names_this_test_binary_and_test() {
    let sweep = sweep();
    let failure = &sweep.failures[0];
    let command = &failure.replay;
    assert!(
        command.starts_with(&format!("MOONPOOL_SEED={} cargo test", failure.seed)),
        "{command}"
    );
    assert!(
        command.ends_with(
            "--test runner_replay -- the_replay_command_names_this_test_binary_and_test --exact --include-ignored"
        ),
        "{command}"
    );
}

#[test]
fn replaying_through_the_environment_gives_the_same_failure() {
    let sweep = sweep();
    let failure = &sweep.failures[0];
    let report_path =
        std::env::temp_dir().join(format!("moonpool-replay-{}.json", std::process::id()));
    let mut child = Command::new(std::env::current_exe().unwrap());
    for var in [
        "MOONPOOL_SEED",
        "MOONPOOL_SEEDS",
        "MOONPOOL_ITERATIONS",
        "MOONPOOL_TRACE",
    ] {
        child.env_remove(var);
    }
    let output = child
        .args([ENTRY_POINT, "--exact", "--include-ignored", "--nocapture"])
        .env("MOONPOOL_SEED", failure.seed.to_string())
        .env("MOONPOOL_REPORT", &report_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "`run()?` with a failing seed fails the test: {stderr}"
    );
    // The failing seed is printed once, with its replay command, in the
    // test's error.
    let found = format!("seed {} failed: {}", failure.seed, failure.message);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stderr.matches(&found).count() + stdout.matches(&found).count(),
        1,
        "{stderr}\n{stdout}"
    );
    assert!(
        stderr.contains(&format!("replay: MOONPOOL_SEED={} ", failure.seed)),
        "{stderr}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    std::fs::remove_file(&report_path).unwrap();
    assert_eq!(json["iterations"], 1);
    assert_eq!(json["failures"][0]["seed"], failure.seed);
    assert_eq!(json["failures"][0]["message"], failure.message.as_str());
    let seed_key = failure.seed.to_string();
    assert_eq!(
        json["trace_hashes"][&seed_key],
        sweep.trace_hashes[&failure.seed].as_str()
    );
}
