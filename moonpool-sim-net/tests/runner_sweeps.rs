//! Sweeps at scale: iterations side by side on several threads, and shards
//! of one sweep, give the report of the plain sweep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod runner_support;

use moonpool_sim_net::runner::{EnvOverrides, Iterations, SimulationBuilder, SimulationReport};
use moonpool_sim_net::{FaultConfig, SimHandle, always, sometimes};
use runner_support::{client_ip, echo_sim};

/// The echo system under chaos, where every fifth seed fails an `always!`.
fn sweep(iterations: u64) -> SimulationBuilder {
    echo_sim(2, iterations)
        .faults(FaultConfig::chaos())
        .workload("judge", client_ip(9), || async {
            let seed = SimHandle::current().unwrap().seed();
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            sometimes!(seed.is_multiple_of(2), "an even seed");
            always!(!seed.is_multiple_of(5), "seeds divisible by five fail");
            Ok::<_, std::io::Error>(())
        })
        .replay_failures_alone(0)
}

fn run(builder: SimulationBuilder, env: EnvOverrides) -> SimulationReport {
    builder.run_report_with(&env).unwrap()
}

/// What must not depend on how the sweep was run.
fn essence(report: &SimulationReport) -> String {
    let failures: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.seed, f.message.clone()))
        .collect();
    format!(
        "{} iterations, {failures:?}, {:?}, {:?}, {:?}, {} events, {} buggify",
        report.iterations,
        report.coverage.sometimes,
        report.trace_hashes,
        report.faults,
        report.events,
        report.buggify_fired
    )
}

#[test]
fn the_report_is_the_same_whatever_the_number_of_threads() {
    let one = run(sweep(24).jobs(1), EnvOverrides::default());
    assert!(!one.failures.is_empty(), "some seeds fail on purpose");
    for jobs in [2, 3, 8] {
        let many = run(sweep(24).jobs(jobs), EnvOverrides::default());
        assert_eq!(essence(&many), essence(&one), "{jobs} threads");
    }
    let from_env = run(
        sweep(24),
        EnvOverrides {
            jobs: Some(4),
            ..EnvOverrides::default()
        },
    );
    assert_eq!(essence(&from_env), essence(&one));
}

#[test]
fn a_run_until_covered_stops_at_the_same_seed_on_any_number_of_threads() {
    let until = |jobs| {
        sweep(0)
            .iterations(Iterations::UntilAllSometimes { max: 40 })
            .jobs(jobs)
            .run_report_with(&EnvOverrides::default())
            .unwrap()
    };
    let one = until(1);
    assert_eq!(essence(&until(4)), essence(&one));
}

#[test]
fn four_shards_cover_the_sweep_exactly_once() {
    let whole = run(sweep(22), EnvOverrides::default());
    let mut hashes = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    let mut iterations = 0;
    for k in 0..4 {
        let shard = run(
            sweep(22),
            EnvOverrides {
                shard: Some((k, 4)),
                ..EnvOverrides::default()
            },
        );
        iterations += shard.iterations;
        for (seed, hash) in &shard.trace_hashes {
            assert!(
                hashes.insert(*seed, hash.clone()).is_none(),
                "shards overlap"
            );
        }
        failures.extend(shard.failures.iter().map(|f| f.seed));
    }
    assert_eq!(iterations, whole.iterations);
    assert_eq!(hashes, whole.trace_hashes);
    failures.sort_unstable();
    let mut expected: Vec<u64> = whole.failures.iter().map(|f| f.seed).collect();
    expected.sort_unstable();
    assert_eq!(failures, expected);
}
