//! The JSON report, the Chrome trace-event timeline, and the determinism
//! check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod runner_support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use moonpool_sim_net::runner::{EnvOverrides, RunnerError, Seeds, SimulationBuilder};
use moonpool_sim_net::{SimTcpStream, always};
use runner_support::{PORT, SERVER, client_ip, echo_client, echo_sim};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("moonpool-{}-{name}", std::process::id()))
}

fn read_json(path: &PathBuf) -> Value {
    let json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    std::fs::remove_file(path).unwrap();
    json
}

#[test]
fn the_report_file_has_the_documented_keys() {
    let path = temp_file("report.json");
    let report = echo_sim(2, 4)
        .run_report_with(&EnvOverrides {
            report: Some(path.clone()),
            ..EnvOverrides::default()
        })
        .unwrap();
    let json = read_json(&path);
    assert_eq!(json["iterations"], 4);
    assert_eq!(json["failures"], Value::Array(vec![]));
    assert_eq!(json["events"], report.events);
    assert!(json["sim_seconds"].as_f64().unwrap() > 0.0);
    assert!(json["wall_seconds"].as_f64().unwrap() > 0.0);
    assert!(json["events_per_second"].as_f64().unwrap() > 0.0);
    assert!(json["sometimes"]["a fast round trip"].is_u64());
    assert!(json["faults"].is_object());
    let hashes = json["trace_hashes"].as_object().unwrap();
    assert_eq!(hashes.len(), 4);
    for (seed, hash) in hashes {
        seed.parse::<u64>().unwrap();
        let hash = hash.as_str().unwrap();
        assert_eq!(hash.len(), 16);
        u64::from_str_radix(hash, 16).unwrap();
    }
}

/// A workload that talks, logs with `tracing`, and fails for every seed.
fn traced_failure() -> SimulationBuilder {
    let ip = client_ip(1);
    SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", ip, move || async move {
            tracing::info!(round = 0, "sending");
            echo_client(ip).await?;
            let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
            stream.write_all(b"bye").await?;
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            tracing::warn!("about to fail");
            always!(false, "fails on purpose");
            Ok::<_, std::io::Error>(())
        })
        .progress(false)
        .print_failures(false)
}

#[test]
fn the_timeline_of_a_failing_seed_is_chrome_trace_json_with_a_track_per_host() {
    let path = temp_file("trace.json");
    let report = traced_failure()
        .run_report_with(&EnvOverrides {
            seed: Some(7),
            trace: Some(path.clone()),
            ..EnvOverrides::default()
        })
        .unwrap();
    assert_eq!(report.failures.len(), 1);
    let json = read_json(&path);
    let events = json["traceEvents"].as_array().unwrap();

    let mut named_tracks = BTreeSet::new();
    let mut used_tracks = BTreeSet::new();
    let mut names = Vec::new();
    for event in events {
        let phase = event["ph"].as_str().unwrap();
        assert!(event["pid"].is_u64(), "{event}");
        match phase {
            "M" => {
                if event["name"] == "thread_name" {
                    named_tracks.insert((
                        event["tid"].as_u64().unwrap(),
                        event["args"]["name"].as_str().unwrap().to_owned(),
                    ));
                }
            }
            "X" | "i" => {
                assert!(event["ts"].as_f64().unwrap() >= 0.0, "{event}");
                assert!(
                    event["name"].is_string() && event["cat"].is_string(),
                    "{event}"
                );
                if phase == "X" {
                    assert!(event["dur"].as_f64().unwrap() >= 0.0, "{event}");
                }
                used_tracks.insert(event["tid"].as_u64().unwrap());
                names.push((
                    event["cat"].as_str().unwrap().to_owned(),
                    event["name"].as_str().unwrap().to_owned(),
                ));
            }
            other => panic!("unexpected phase {other}"),
        }
    }
    let track_names: Vec<&str> = named_tracks.iter().map(|(_, name)| name.as_str()).collect();
    assert_eq!(
        track_names,
        vec![
            "server (10.0.0.1)",
            "client (10.0.1.1)",
            "client (10.0.1.1) · connections"
        ]
    );
    assert_intervals_nest_per_track(events);
    let named: BTreeSet<u64> = named_tracks.iter().map(|(tid, _)| *tid).collect();
    assert!(
        used_tracks.is_subset(&named),
        "every event is on a named track"
    );

    let has =
        |cat: &str, prefix: &str| names.iter().any(|(c, n)| c == cat && n.starts_with(prefix));
    assert!(has("host", "start #0"));
    assert!(has("host", "incarnation #0"));
    assert!(has("net", "accept "));
    assert!(has("net", "connected to 10.0.0.1:7000"));
    assert!(has("net", "recv 8 B"));
    assert!(has("net", "recv 3 B"), "events up to the failure are kept");
    assert!(has("conn", "10.0.1.1:"));
    assert!(has("user", "sending"));
    assert!(has("user", "about to fail"));
    let client_track = named_tracks
        .iter()
        .find(|(_, n)| n.starts_with("client"))
        .unwrap()
        .0;
    let user = events.iter().find(|e| e["name"] == "sending").unwrap();
    assert_eq!(user["args"]["round"], 0);
    assert_eq!(user["tid"], client_track);
    // The failure itself is marked where and when it happened.
    let failed = events.iter().find(|e| e["cat"] == "failure").unwrap();
    assert!(
        failed["name"]
            .as_str()
            .unwrap()
            .contains("fails on purpose"),
        "{failed}"
    );
    assert_eq!(failed["tid"], client_track);
    let warned = events
        .iter()
        .find(|e| e["name"] == "about to fail")
        .unwrap();
    assert!(failed["ts"].as_f64().unwrap() >= warned["ts"].as_f64().unwrap());
}

/// A viewer shows the "X" events of one track as a stack: on every track
/// they must be disjoint or nested.
fn assert_intervals_nest_per_track(events: &[Value]) {
    let mut by_track: std::collections::BTreeMap<u64, Vec<(f64, f64)>> = Default::default();
    for event in events.iter().filter(|e| e["ph"] == "X") {
        let (ts, dur) = (
            event["ts"].as_f64().unwrap(),
            event["dur"].as_f64().unwrap(),
        );
        by_track
            .entry(event["tid"].as_u64().unwrap())
            .or_default()
            .push((ts, ts + dur));
    }
    for (tid, mut spans) in by_track {
        // Outer intervals first when they start together.
        spans.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut open: Vec<f64> = Vec::new();
        for (start, end) in spans {
            while open.last().is_some_and(|&outer_end| outer_end <= start) {
                open.pop();
            }
            if let Some(&outer_end) = open.last() {
                assert!(
                    end <= outer_end,
                    "track {tid}: [{start}, {end}] overlaps an interval ending at {outer_end}"
                );
            }
            open.push(end);
        }
    }
}

#[test]
fn a_timeline_needs_exactly_one_seed() {
    let error = echo_sim(1, 5)
        .run_report_with(&EnvOverrides {
            trace: Some(temp_file("never.json")),
            ..EnvOverrides::default()
        })
        .unwrap_err();
    assert!(matches!(
        error,
        RunnerError::TraceNeedsOneSeed { iterations: 5 }
    ));
    assert!(error.to_string().contains("MOONPOOL_SEED"));
}

#[test]
fn the_same_seed_twice_gives_the_same_trace_hash() {
    let builder = echo_sim(3, 1);
    let run = builder.verify_determinism(11).unwrap();
    assert!(run.failure.is_none());
    let report = builder
        .seeds(Seeds::List(vec![11]))
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    assert_eq!(
        report.trace_hashes[&11],
        format!("{:016x}", run.trace_hash.unwrap())
    );
}

#[test]
fn the_echo_sweep_passes_the_determinism_check() {
    echo_sim(2, 4)
        .check_determinism(true)
        .run_report_with(&EnvOverrides::default())
        .unwrap()
        .assert_passed();
}

#[test]
fn a_nondeterministic_workload_is_caught_with_the_first_differing_event() {
    // State that survives between runs breaks determinism: every run sends
    // one byte more than the last.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let builder = SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", Ipv4Addr::new(10, 0, 1, 1), || async {
            let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
            let len = 1 + RUNS.fetch_add(1, Ordering::Relaxed) as usize;
            stream.write_all(&vec![0u8; len]).await?;
            Ok::<_, std::io::Error>(())
        })
        .progress(false)
        .print_failures(false);
    let error = builder.verify_determinism(3).unwrap_err();
    assert_eq!(error.seed, 3);
    assert_ne!(error.first_hash, error.second_hash);
    assert!(error.detail.starts_with("event #"), "{}", error.detail);
    assert!(
        error.detail.contains(" B") || error.detail.contains("bytes"),
        "{}",
        error.detail
    );
    assert!(
        error.detail.contains(" ms"),
        "names the simulated time: {}",
        error.detail
    );

    let report = builder
        .seeds(Seeds::List(vec![3]))
        .check_determinism(true)
        .run_report_with(&EnvOverrides::default())
        .unwrap();
    assert!(
        report.failures[0]
            .message
            .contains("is not deterministic: event #"),
        "{}",
        report.failures[0].message
    );
}

#[test]
fn a_workload_that_panics_fails_its_seed_and_keeps_its_timeline() {
    let path = temp_file("panic-trace.json");
    let ip = client_ip(1);
    let report = SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", ip, move || async move {
            echo_client(ip).await?;
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            assert_eq!(1 + 1, 3, "arithmetic is broken");
            Ok::<_, std::io::Error>(())
        })
        .progress(false)
        .print_failures(false)
        .run_report_with(&EnvOverrides {
            seed: Some(5),
            trace: Some(path.clone()),
            ..EnvOverrides::default()
        })
        .unwrap();
    assert!(
        report.failures[0].message.contains("arithmetic is broken"),
        "{}",
        report.failures[0].message
    );
    assert!(report.trace_hashes.contains_key(&5));
    let json = read_json(&path);
    let delivered = json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("recv 8 B"))
        })
        .count();
    assert_eq!(
        delivered as u64,
        2 * runner_support::ROUNDS,
        "every request and reply"
    );
}

#[test]
fn an_unwritable_report_path_fails_before_any_iteration_and_says_why() {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let counting = || {
        SimulationBuilder::new()
            .host("server", SERVER, runner_support::echo_server)
            .workload("client", client_ip(1), || async {
                STARTED.fetch_add(1, Ordering::Relaxed);
                echo_client(client_ip(1)).await
            })
            .progress(false)
    };
    let missing_dir = std::env::temp_dir()
        .join(format!("moonpool-no-such-dir-{}", std::process::id()))
        .join("r.json");
    for path in [missing_dir, std::env::temp_dir()] {
        let error = counting()
            .run_report_with(&EnvOverrides {
                iterations: Some(2000),
                report: Some(path.clone()),
                ..EnvOverrides::default()
            })
            .unwrap_err();
        assert!(matches!(error, RunnerError::WriteReport { .. }), "{error}");
        let text = error.to_string();
        // The OS's reason is in the message, not only the path.
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(
            text.len() > format!("cannot write the report to {}", path.display()).len() + 2,
            "{text}"
        );
    }
    assert_eq!(STARTED.load(Ordering::Relaxed), 0, "no iteration ran");
}

#[test]
fn a_failing_run_is_an_error_that_carries_the_report() {
    let error = traced_failure()
        .run_with(&EnvOverrides {
            seed: Some(4),
            ..EnvOverrides::default()
        })
        .unwrap_err();
    let report = error.report().expect("a failed run carries its report");
    assert_eq!(report.failures[0].seed, 4);
    // Display and Debug both show the failing seed and its replay command,
    // so `run()?` in a test prints them once, in the test's error.
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(text.contains("seed 4 failed: "), "{text}");
        assert!(text.contains("replay: MOONPOOL_SEED=4 "), "{text}");
    }
}

#[test]
fn a_failed_determinism_check_is_marked_on_the_timeline_at_the_first_difference() {
    // Every run of the process sends one byte more than the last.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let path = temp_file("divergence-trace.json");
    let report = SimulationBuilder::new()
        .host("server", SERVER, runner_support::echo_server)
        .workload("client", Ipv4Addr::new(10, 0, 1, 1), || async {
            let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
            let len = 1 + RUNS.fetch_add(1, Ordering::Relaxed) as usize;
            stream.write_all(&vec![0u8; len]).await?;
            Ok::<_, std::io::Error>(())
        })
        .progress(false)
        .print_failures(false)
        .run_report_with(&EnvOverrides {
            seed: Some(3),
            trace: Some(path.clone()),
            ..EnvOverrides::default()
        })
        .unwrap();
    assert!(report.failures[0].message.contains("is not deterministic"));
    let json = read_json(&path);
    let events = json["traceEvents"].as_array().unwrap();
    let marked = events
        .iter()
        .find(|e| e["cat"] == "failure")
        .expect("the divergence is marked");
    let name = marked["name"].as_str().unwrap();
    assert!(name.contains("is not deterministic: event #"), "{name}");
    // At the first differing event: the segment of a different length.
    let segment = events
        .iter()
        .filter(|e| e["cat"] == "net")
        .find(|e| e["name"].as_str().unwrap().starts_with("recv "))
        .expect("the differing segment is on the timeline");
    assert_eq!(marked["ts"], segment["ts"], "{marked} vs {segment}");
}
