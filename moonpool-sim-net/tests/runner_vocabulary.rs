//! The test vocabulary under the runner: buggify!, always!, sometimes!,
//! and their behaviour outside a simulation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod runner_support;

use std::net::Ipv4Addr;

use moonpool_sim_net::assertions::{BuggifyConfig, current_seed, in_simulation};
use moonpool_sim_net::runner::{EnvOverrides, Iterations, RunnerError, Seeds, SimulationBuilder};
use moonpool_sim_net::{always, buggify, buggify_with_prob, sometimes};
use runner_support::{ROUNDS, echo_sim};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

fn no_env() -> EnvOverrides {
    EnvOverrides::default()
}

/// A one-host simulation running `workload` (no network needed).
fn solo<F, Fut>(workload: F) -> SimulationBuilder
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), std::io::Error>> + Send + 'static,
{
    SimulationBuilder::new()
        .workload("solo", CLIENT, workload)
        .seeds(Seeds::Range(0..20))
        .progress(false)
        .print_failures(false)
}

#[test]
fn outside_a_simulation_the_macros_are_no_ops() {
    assert!(!in_simulation());
    assert_eq!(current_seed(), None);
    assert!((0..1000).all(|_| !buggify!() && !buggify_with_prob!(1.0)));
    always!(false, "never checked outside a simulation");
    sometimes!(true, "never recorded outside a simulation");
}

#[test]
fn a_passing_echo_sweep_reports_coverage_and_hashes() {
    let report = echo_sim(2, 8).run_report_with(&no_env()).unwrap();
    report.assert_passed();
    assert_eq!(report.iterations, 8);
    assert_eq!(report.trace_hashes.len(), 8);
    assert!(report.events > 0 && report.sim_seconds > 0.0);
    let always = report.coverage.always["echo returns what was sent"];
    assert_eq!(always.evaluations, 8 * 2 * ROUNDS);
    assert_eq!(always.failures, 0);
    assert!(report.coverage.sometimes.contains_key("a slow round trip"));
}

#[test]
fn a_false_always_fails_the_iteration_with_its_seed_and_site() {
    let report = solo(|| async {
        let seed = current_seed().unwrap();
        always!(seed % 4 != 1, "seed is not 1 mod 4", "seed {seed}");
        Ok(())
    })
    .run_report_with(&no_env())
    .unwrap();
    let failed: Vec<u64> = report.failures.iter().map(|f| f.seed).collect();
    assert_eq!(failed, vec![1, 5, 9, 13, 17]);
    let message = &report.failures[0].message;
    assert!(
        message.starts_with("always!(\"seed is not 1 mod 4\") failed at "),
        "{message}"
    );
    assert!(
        message.contains("runner_vocabulary.rs") && message.ends_with(": seed 1"),
        "{message}"
    );
    assert!(!report.passed());
}

#[test]
fn a_failure_ends_the_iteration_at_once() {
    let report = solo(|| async {
        always!(false, "fails at the start");
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        Ok(())
    })
    .seeds(Seeds::List(vec![3]))
    .run_report_with(&no_env())
    .unwrap();
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.sim_seconds < 1.0,
        "ran {} simulated seconds",
        report.sim_seconds
    );
}

#[test]
fn sometimes_counts_the_iterations_that_saw_it() {
    let report = solo(|| async {
        let seed = current_seed().unwrap();
        sometimes!(seed.is_multiple_of(2), "even seed");
        sometimes!(seed.is_multiple_of(2), "even seed");
        sometimes!(false, "never true");
        Ok(())
    })
    .run_report_with(&no_env())
    .unwrap();
    assert_eq!(report.coverage.sometimes["even seed"], 10);
    assert_eq!(report.coverage.sometimes["never true"], 0);
    assert!(report.passed(), "coverage is not required by default");
    assert!(report.to_string().contains("never true"));
}

#[test]
fn required_coverage_fails_on_a_declared_but_unreached_name() {
    let report = solo(|| async {
        sometimes!(true, "reached");
        Ok(())
    })
    .expect_sometimes(["declared, never reached"])
    .require_full_coverage(true)
    .run_report_with(&no_env())
    .unwrap();
    assert!(report.failures.is_empty());
    assert_eq!(report.missing_sometimes(), vec!["declared, never reached"]);
    assert!(!report.passed());
}

#[test]
fn until_all_sometimes_stops_once_everything_was_seen() {
    let report = solo(|| async {
        sometimes!(current_seed() == Some(6), "seed six");
        Ok(())
    })
    .iterations(Iterations::UntilAllSometimes { max: 50 })
    .run_report_with(&no_env())
    .unwrap();
    assert_eq!(report.iterations, 7, "seeds 0..=6");
    assert!(report.passed());

    let never = solo(|| async {
        sometimes!(false, "impossible");
        Ok(())
    })
    .iterations(Iterations::UntilAllSometimes { max: 4 })
    .run_report_with(&no_env())
    .unwrap();
    assert_eq!(never.iterations, 4);
    assert!(
        !never.passed(),
        "missing coverage fails an until-covered run"
    );
}

#[test]
fn until_all_sometimes_with_nothing_to_cover_runs_every_iteration_and_fails() {
    let report = solo(|| async { Ok(()) })
        .iterations(Iterations::UntilAllSometimes { max: 3 })
        .run_report_with(&no_env())
        .unwrap();
    assert_eq!(report.iterations, 3, "no early stop on an empty table");
    assert!(!report.passed());
    assert!(report.to_string().contains("no sometimes! was evaluated"));
}

#[test]
fn a_run_of_zero_iterations_is_an_error() {
    let env = EnvOverrides {
        iterations: Some(0),
        ..no_env()
    };
    let error = solo(|| async { Ok(()) }).run_report_with(&env).unwrap_err();
    assert!(matches!(error, RunnerError::NoIterations { limit: 0, .. }));
}

#[test]
fn buggify_fires_only_on_switched_on_sites_and_not_when_disabled() {
    let fired_sites = |config: BuggifyConfig| {
        let report = solo(|| async {
            // Eight distinct sites, each asked many times.
            let mut on = [false; 8];
            for _ in 0..50 {
                on[0] |= buggify!();
                on[1] |= buggify!();
                on[2] |= buggify!();
                on[3] |= buggify!();
                on[4] |= buggify_with_prob!(1.0);
                on[5] |= buggify_with_prob!(1.0);
                on[6] |= buggify_with_prob!(1.0);
                on[7] |= buggify_with_prob!(1.0);
            }
            let count = on.iter().filter(|on| **on).count();
            sometimes!(count > 0, "some site fired");
            always!(count < 8, "not every site is switched on");
            Ok(())
        })
        .buggify(config)
        .run_report_with(&no_env())
        .unwrap();
        report.assert_passed();
        (
            report.buggify_fired,
            report.coverage.sometimes["some site fired"],
        )
    };
    let (fired, iterations_with_fire) = fired_sites(BuggifyConfig::default());
    assert!(fired > 0 && iterations_with_fire > 0);
    assert_eq!(fired_sites(BuggifyConfig::disabled()), (0, 0));
}

#[tokio::test]
async fn the_runner_works_from_async_code() {
    let report = solo(|| async {
        sometimes!(buggify_with_prob!(1.0), "buggify fired");
        always!(in_simulation(), "the context reaches the iteration");
        Ok(())
    })
    .run_report_with(&no_env())
    .unwrap();
    report.assert_passed();
    assert!(report.coverage.sometimes["buggify fired"] > 0);
}
