//! The determinism check every run makes, and failing seeds replayed alone
//! in a new process, as their replay command will run them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod runner_support;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moonpool_sim_net::runner::{
    DEFAULT_DETERMINISM_SEEDS, EnvOverrides, Iterations, Seeds, SimulationBuilder,
};
use moonpool_sim_net::{SimHandle, SimTcpStream, always, spawn};
use runner_support::{PORT, SERVER, echo_sim};
use tokio::io::AsyncWriteExt;

/// Eight tasks wait on one `watch` and, woken, each sends its number to the
/// server: the trace records tokio's wake order. An unbiased `select!`
/// picks which of three ready branches sends first.
async fn tokio_rng_client() -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut done = Vec::new();
    for task in 0..8u8 {
        let mut rx = rx.clone();
        done.push(spawn(async move {
            let _ = rx.changed().await;
            let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
            stream.write_all(&[task; 8]).await?;
            Ok::<_, std::io::Error>(())
        }));
    }
    tokio::task::yield_now().await;
    tx.send_replace(true);
    let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
    for _ in 0..8 {
        let byte = tokio::select! {
            () = std::future::ready(()) => 1u8,
            () = std::future::ready(()) => 2u8,
            () = std::future::ready(()) => 3u8,
        };
        stream.write_all(&[byte; 8]).await?;
    }
    for task in done {
        let _ = task.await;
    }
    Ok(())
}

fn tokio_rng_sim() -> SimulationBuilder {
    SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", Ipv4Addr::new(10, 0, 1, 1), tokio_rng_client)
        .iterations(Iterations::Fixed(4))
        .progress(false)
        .print_failures(false)
}

#[test]
fn every_run_checks_its_first_seeds_by_default() {
    let report = echo_sim(2, 5)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    report.assert_passed();
    assert_eq!(report.determinism_checked, DEFAULT_DETERMINISM_SEEDS);
    let off = EnvOverrides {
        check_determinism: Some(0),
        ..EnvOverrides::default()
    };
    assert_eq!(
        echo_sim(2, 5)
            .run_report_with(&off)
            .unwrap()
            .determinism_checked,
        0
    );
    let all = EnvOverrides {
        check_determinism: Some(u64::MAX),
        ..EnvOverrides::default()
    };
    assert_eq!(
        echo_sim(2, 5)
            .run_report_with(&all)
            .unwrap()
            .determinism_checked,
        5
    );
}

#[test]
fn code_that_draws_from_tokios_rng_passes_because_it_replays_alone() {
    let report = tokio_rng_sim()
        .check_determinism(true)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    report.assert_passed();
    assert_eq!(report.determinism_checked, 4);
    // Whatever ran in this process, every seed listed replays alone.
    for seed in &report.replays_only_alone {
        assert!(report.trace_hashes.contains_key(seed));
    }
}

#[test]
fn state_kept_between_runs_fails_the_check_even_though_each_process_agrees() {
    // Every run of the process sends one byte more than the last: two new
    // processes agree with each other, but the runs in this one do not, and
    // nothing drew from tokio's RNG to excuse it.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let report = SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", Ipv4Addr::new(10, 0, 1, 1), || async {
            let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
            let len = 1 + RUNS.fetch_add(1, Ordering::Relaxed) as usize;
            stream.write_all(&vec![0u8; len]).await?;
            Ok::<_, std::io::Error>(())
        })
        .seeds(Seeds::List(vec![9]))
        .progress(false)
        .print_failures(false)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    assert!(!report.passed());
    let message = &report.failures[0].message;
    assert!(
        message.contains("is not deterministic: event #"),
        "{message}"
    );
    assert!(report.replays_only_alone.is_empty());
}

/// Fails every seed divisible by three, the same way whatever ran before.
fn every_third_seed_fails() -> SimulationBuilder {
    SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", Ipv4Addr::new(10, 0, 1, 1), || async {
            let seed = SimHandle::current().unwrap().seed();
            let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
            stream.write_all(&[7; 8]).await?;
            tokio::time::sleep(Duration::from_millis(3)).await;
            always!(!seed.is_multiple_of(3), "seeds divisible by three fail");
            Ok::<_, std::io::Error>(())
        })
        .seeds(Seeds::List(vec![3, 4, 6, 7, 9]))
        .progress(false)
        .print_failures(false)
}

#[test]
fn failing_seeds_are_replayed_alone_and_confirmed() {
    let report = every_third_seed_fails()
        .replay_failures_alone(2)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    let failures: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.seed, f.replays_alone))
        .collect();
    assert_eq!(
        failures,
        [(3, Some(true)), (6, Some(true)), (9, None)],
        "{report}"
    );
}

#[test]
fn a_failure_that_does_not_replay_alone_says_so() {
    // Fails only as the second iteration of a process: alone, it passes.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let report = SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", Ipv4Addr::new(10, 0, 1, 1), || async {
            let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
            stream.write_all(&[1; 8]).await?;
            tokio::time::sleep(Duration::from_millis(3)).await;
            always!(
                RUNS.fetch_add(1, Ordering::Relaxed) != 1,
                "the second run of the process"
            );
            Ok::<_, std::io::Error>(())
        })
        .seeds(Seeds::List(vec![1, 2]))
        .check_determinism(false)
        .progress(false)
        .print_failures(false)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    let failure = &report.failures[0];
    assert_eq!((failure.seed, failure.replays_alone), (2, Some(false)));
    assert!(
        failure
            .message
            .contains("run alone (as its replay command runs it) the seed passes"),
        "{}",
        failure.message
    );
}
