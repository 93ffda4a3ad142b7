//! Invariants over published state, shutdown of long-running hosts, and
//! quiescence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod runner_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::invariants::{Invariant, publish, publish_json};
use moonpool_sim_net::runner::{EnvOverrides, QuiescenceConfig, Seeds, SimulationBuilder};
use moonpool_sim_net::{SimTcpListener, SimTcpStream, spawn};
use runner_support::{SERVER, echo_sim};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn run(builder: SimulationBuilder) -> moonpool_sim_net::runner::SimulationReport {
    builder
        .seeds(Seeds::Range(0..3))
        .progress(false)
        .print_failures(false)
        .run_report_with(&EnvOverrides::default())
        .unwrap()
}

#[test]
fn invariants_see_state_published_by_every_host_at_quiescence() {
    let report = run(echo_sim(3, 3));
    report.assert_passed();
}

#[test]
fn hosts_are_told_to_shut_down_before_the_invariants_run() {
    let report = run(echo_sim(1, 3).invariant(Invariant::new(
        "server shut down",
        |state| match state.get::<bool>(SERVER, "shut down") {
            Some(true) => Ok(()),
            _ => Err("the server never saw the shutdown signal".into()),
        },
    )));
    report.assert_passed();
}

#[test]
fn a_violated_invariant_fails_the_iteration_with_its_name() {
    let report = run(SimulationBuilder::new()
        .workload("a", A, || async {
            publish(A, "term", 3_u64);
            Ok::<_, std::io::Error>(())
        })
        .workload("b", B, || async {
            publish(B, "term", 4_u64);
            Ok::<_, std::io::Error>(())
        })
        .invariant(Invariant::new("one term", |state| {
            let terms: Vec<u64> = state.values::<u64>("term").map(|(_, t)| *t).collect();
            if terms.windows(2).all(|w| w[0] == w[1]) {
                Ok(())
            } else {
                Err(format!("terms {terms:?}"))
            }
        })));
    assert_eq!(report.failures.len(), 3);
    assert_eq!(
        report.failures[0].message,
        "invariant \"one term\" failed: terms [3, 4]"
    );
}

#[test]
fn an_invariant_checked_after_each_publish_catches_a_transient_violation() {
    let transient = || {
        SimulationBuilder::new().workload("a", A, || async {
            publish(A, "balance", -5_i64);
            tokio::time::sleep(Duration::from_millis(10)).await;
            publish(A, "balance", 5_i64);
            Ok::<_, std::io::Error>(())
        })
    };
    let never_negative = || {
        Invariant::new("balance never negative", |state| {
            match state.get::<i64>(A, "balance") {
                Some(balance) if *balance < 0 => Err(format!("balance {balance}")),
                _ => Ok(()),
            }
        })
    };
    // At quiescence only, the final state is fine.
    run(transient().invariant(never_negative())).assert_passed();
    // After each publish, the transient state is caught, at its time.
    let report = run(transient().invariant(never_negative().after_each_publish()));
    assert_eq!(report.failures.len(), 3);
    assert!(report.failures[0].message.contains("balance -5"));
    assert!(
        report.sim_seconds < 0.01 * 3.0,
        "failed before the second publish"
    );
}

#[test]
fn json_state_is_readable_by_invariants() {
    #[derive(serde::Serialize)]
    struct Status {
        leader: bool,
    }
    let report = run(SimulationBuilder::new()
        .workload("a", A, || async {
            publish_json(A, "status", &Status { leader: true }).unwrap();
            Ok::<_, std::io::Error>(())
        })
        .invariant(Invariant::new("a leader exists", |state| {
            let leaders = state
                .hosts()
                .filter(|(_, host)| {
                    host.json("status").and_then(|s| s["leader"].as_bool()) == Some(true)
                })
                .count();
            if leaders == 1 {
                Ok(())
            } else {
                Err(format!("{leaders} leaders"))
            }
        })));
    report.assert_passed();
}

#[test]
fn a_host_that_never_goes_quiet_is_waited_for_at_most_the_bound() {
    let quiescence = QuiescenceConfig {
        quiet_window: Duration::from_millis(50),
        max_wait: Duration::from_millis(200),
    };
    let report = run(SimulationBuilder::new()
        .host("chatty", A, || async {
            // Ignores the shutdown signal and talks to itself forever.
            let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, 7000)).await?;
            spawn(async move {
                let mut stream = SimTcpStream::connect((A, 7000)).await?;
                loop {
                    stream.write_all(b"x").await?;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                #[allow(unreachable_code)]
                Ok::<_, std::io::Error>(())
            });
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0u8; 64];
            while stream.read(&mut buf).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .host("polite", B, || async {
            shutdown_signal().cancelled().await;
            publish(B, "stopped", true);
            Ok::<_, std::io::Error>(())
        })
        .workload("w", Ipv4Addr::new(10, 0, 0, 3), || async {
            Ok::<_, std::io::Error>(())
        })
        .quiescence(quiescence)
        .invariant(Invariant::new("polite host stopped", |state| {
            state
                .get::<bool>(B, "stopped")
                .map(|_| ())
                .ok_or_else(|| "not stopped".into())
        })));
    report.assert_passed();
    let per_iteration = report.sim_seconds / report.iterations as f64;
    assert!(
        (0.2..0.3).contains(&per_iteration),
        "{per_iteration} s per iteration"
    );
}

#[test]
fn a_crashed_workload_does_not_keep_the_others_from_shutting_down() {
    let victim = Ipv4Addr::new(10, 0, 0, 3);
    let report = run(SimulationBuilder::new()
        .host("server", A, || async {
            shutdown_signal().cancelled().await;
            publish(A, "shut down", true);
            Ok::<_, std::io::Error>(())
        })
        .workload("victim", victim, || async {
            tokio::time::sleep(Duration::from_secs(100)).await;
            Ok::<_, std::io::Error>(())
        })
        .workload("crasher", B, move || async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            moonpool_sim_net::SimHandle::current()
                .unwrap()
                .crash(victim)
                .unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, std::io::Error>(())
        })
        .invariant(Invariant::new(
            "server told to shut down",
            |state| match state.get::<bool>(A, "shut down") {
                Some(true) => Ok(()),
                _ => Err("the server never saw the shutdown signal".into()),
            },
        )));
    report.assert_passed();
}

#[test]
fn an_unbounded_budget_runs_instead_of_overflowing() {
    let report = run(SimulationBuilder::new()
        .workload("w", A, || async { Ok::<_, std::io::Error>(()) })
        .budget(Duration::MAX));
    report.assert_passed();
}
