//! Code that follows none of the determinism rules — std's `HashMap`,
//! `SystemTime`, `std::time::Instant`, an unbiased `select!`, several tasks
//! on one `watch` — replays with its seed, in this process and in others.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moonpool_sim_net::{OsConfig, Sim, SimConfig, os};

use crate::ip;

/// What the probe saw, as text: equal text means equal behaviour.
type Seen = Arc<Mutex<String>>;

fn note(seen: &Seen, line: impl AsRef<str>) {
    let mut seen = seen.lock().unwrap();
    seen.push_str(line.as_ref());
    seen.push('\n');
}

/// Plain tokio and std code, as a user would write it without thinking of
/// simulation.
async fn probe(seen: Seen) -> std::io::Result<()> {
    note(&seen, format!("seeded: {}", os::is_seeded()));

    let map: HashMap<u32, u32> = (0..32).map(|i| (i, i)).collect();
    note(
        &seen,
        format!("hashmap order: {:?}", map.keys().collect::<Vec<_>>()),
    );

    let wall = SystemTime::now();
    let mono = std::time::Instant::now();
    assert_eq!(
        mono,
        tokio::time::Instant::now().into_std(),
        "std's monotonic clock is tokio's paused clock"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        SystemTime::now().duration_since(wall).unwrap(),
        Duration::from_millis(1500)
    );
    assert_eq!(mono.elapsed(), Duration::from_millis(1500));
    note(
        &seen,
        format!(
            "system time: {:?}",
            wall.duration_since(UNIX_EPOCH).unwrap()
        ),
    );

    let mut choices = String::new();
    for _ in 0..32 {
        tokio::select! {
            () = std::future::ready(()) => choices.push('a'),
            () = std::future::ready(()) => choices.push('b'),
            () = std::future::ready(()) => choices.push('c'),
        }
    }
    note(&seen, format!("select choices: {choices}"));

    let (tx, rx) = tokio::sync::watch::channel(0u32);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for task in 0..8 {
        let (mut rx, order) = (rx.clone(), Arc::clone(&order));
        waiters.push(tokio::spawn(async move {
            if rx.changed().await.is_ok() {
                order.lock().unwrap().push(task);
            }
        }));
    }
    tokio::task::yield_now().await;
    tx.send_replace(1);
    for waiter in waiters {
        waiter.await.unwrap();
    }
    note(
        &seen,
        format!("watch wake order: {:?}", order.lock().unwrap()),
    );
    Ok(())
}

fn observe(seed: u64) -> String {
    let seen = Seen::default();
    let outcome = Sim::new(seed)
        .workload("probe", ip(1), probe(Arc::clone(&seen)))
        .run(Duration::from_secs(10));
    assert!(outcome.is_ok(), "the probe failed: {outcome:?}");
    seen.lock().unwrap().clone()
}

/// Runs the probe for `seed` alone in a new process of this test binary.
fn observe_in_new_process(seed: u64) -> String {
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args([
            "os::probe_entry_point",
            "--exact",
            "--include-ignored",
            "--nocapture",
        ])
        .env(PROBE_SEED, seed.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the probe process failed: {output:?}"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut seen = String::new();
    for line in stdout
        .lines()
        .filter_map(|line| line.strip_prefix("probe| "))
    {
        writeln!(seen, "{line}").unwrap();
    }
    assert!(!seen.is_empty(), "the probe printed nothing: {stdout}");
    seen
}

const PROBE_SEED: &str = "MOONPOOL_TEST_PROBE_SEED";

/// Entry point of [`a_seed_replays_in_a_new_process`]'s child processes
/// (which set the seed); run directly, it probes seed 21.
#[test]
#[ignore = "run by a_seed_replays_in_a_new_process in a process of its own"]
fn probe_entry_point() {
    let seed = std::env::var(PROBE_SEED).map_or(21, |seed| seed.parse().unwrap());
    for line in observe(seed).lines() {
        println!("probe| {line}");
    }
}

#[test]
fn std_randomness_and_clocks_replay_with_the_seed_in_one_process() {
    let first = observe(11);
    assert!(first.contains("seeded: true"));
    let second = observe(11);
    let lines = |seen: &str, prefix: &str| {
        seen.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap()
            .to_owned()
    };
    for prefix in ["hashmap order", "system time"] {
        assert_eq!(lines(&first, prefix), lines(&second, prefix));
    }
    let other = observe(12);
    for prefix in ["hashmap order", "system time"] {
        assert_ne!(lines(&first, prefix), lines(&other, prefix));
    }
}

#[test]
fn a_seed_replays_in_a_new_process() {
    let first = observe_in_new_process(21);
    let second = observe_in_new_process(21);
    assert_eq!(first, second);
    let other = observe_in_new_process(22);
    let differing = first
        .lines()
        .zip(other.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        differing >= 3,
        "another seed gives other hash keys, clocks and choices:\n{first}\n{other}"
    );
}

#[test]
fn threads_outside_a_simulation_keep_the_operating_systems_answers() {
    assert!(!os::is_seeded());
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    // Any real clock on this machine is past 2020 and not in a simulation's
    // configured range unless by coincidence of the date.
    assert!(before > Duration::from_secs(1_577_836_800));
    let a = std::collections::hash_map::RandomState::new();
    let b = std::collections::hash_map::RandomState::new();
    use std::hash::BuildHasher;
    assert_ne!(a.hash_one(1u8), b.hash_one(1u8));
    let start = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(2));
    assert!(start.elapsed() >= Duration::from_millis(2));
}

#[test]
fn an_unseeded_configuration_reads_the_real_clock() {
    let seen = Seen::default();
    let config = SimConfig {
        os: OsConfig {
            seeded: false,
            ..OsConfig::default()
        },
        ..SimConfig::default()
    };
    let probe_seen = Arc::clone(&seen);
    let outcome = Sim::new(3)
        .config(config)
        .workload("probe", ip(1), async move {
            note(&probe_seen, format!("seeded: {}", os::is_seeded()));
            Ok::<_, std::io::Error>(())
        })
        .run(Duration::from_secs(1));
    assert!(outcome.is_ok());
    assert_eq!(seen.lock().unwrap().as_str(), "seeded: false\n");
}
