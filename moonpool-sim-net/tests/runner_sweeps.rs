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

/// Entry point of the shard processes of
/// [`four_shard_processes_merged_give_the_unsharded_report`].
#[test]
#[ignore = "run by four_shard_processes_merged_give_the_unsharded_report"]
fn sweep_entry_point() {
    // Honours MOONPOOL_SHARD and MOONPOOL_REPORT, as any sweep does.
    let report = sweep(22).run_report().unwrap();
    assert!(report.iterations > 0);
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("moonpool-sweeps-{}-{name}", std::process::id()))
}

#[test]
fn four_shard_processes_merged_give_the_unsharded_report() {
    let exe = std::env::current_exe().unwrap();
    let run = |shard: Option<&str>, report: &std::path::Path| {
        let mut command = std::process::Command::new(&exe);
        command
            .args(["sweep_entry_point", "--exact", "--include-ignored"])
            .env("MOONPOOL_REPORT", report)
            .env_remove("MOONPOOL_SEED")
            .env_remove("MOONPOOL_SEEDS")
            .env_remove("MOONPOOL_ITERATIONS");
        match shard {
            Some(shard) => command.env("MOONPOOL_SHARD", shard),
            None => command.env_remove("MOONPOOL_SHARD"),
        };
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
    };
    let whole_path = temp("whole.json");
    run(None, &whole_path);
    let shard_paths: Vec<_> = (0..4).map(|k| temp(&format!("shard-{k}.json"))).collect();
    for (k, path) in shard_paths.iter().enumerate() {
        run(Some(&format!("{k}/4")), path);
    }
    let merged_path = temp("merged.json");
    let merge = std::process::Command::new(env!("CARGO_BIN_EXE_moonpool-report"))
        .arg("merge")
        .arg("-o")
        .arg(&merged_path)
        .args(&shard_paths)
        .output()
        .unwrap();
    // Some seeds fail on purpose: the merged sweep did not pass.
    assert_eq!(merge.status.code(), Some(1), "{merge:?}");
    let read = |path: &std::path::Path| -> SimulationReport {
        let report = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        std::fs::remove_file(path).unwrap();
        report
    };
    let (whole, merged) = (read(&whole_path), read(&merged_path));
    for path in &shard_paths {
        std::fs::remove_file(path).unwrap();
    }
    assert_eq!(merged.iterations, whole.iterations);
    assert_eq!(merged.trace_hashes, whole.trace_hashes);
    assert_eq!(merged.coverage, whole.coverage);
    let seeds = |report: &SimulationReport| -> Vec<(u64, String)> {
        let mut failures: Vec<_> = report
            .failures
            .iter()
            .map(|f| (f.seed, f.message.clone()))
            .collect();
        failures.sort();
        failures
    };
    assert_eq!(seeds(&merged), seeds(&whole));
    assert_eq!(merged.faults, whole.faults);
}

#[test]
fn reports_of_another_sweep_are_not_merged() {
    let a = temp("a.json");
    let b = temp("b.json");
    sweep(3)
        .run_report_with(&EnvOverrides {
            report: Some(a.clone()),
            ..EnvOverrides::default()
        })
        .unwrap();
    sweep(4)
        .run_report_with(&EnvOverrides {
            report: Some(b.clone()),
            ..EnvOverrides::default()
        })
        .unwrap();
    let merge = std::process::Command::new(env!("CARGO_BIN_EXE_moonpool-report"))
        .args(["merge"])
        .args([&a, &b])
        .output()
        .unwrap();
    let _ = (std::fs::remove_file(a), std::fs::remove_file(b));
    assert_eq!(merge.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&merge.stderr);
    assert!(stderr.contains("another test or configuration"), "{stderr}");
}
