//! Running one seed alone, in a new process of the same program: what its
//! replay command will do.
//!
//! Inside a simulation everything the operating system would randomize is
//! seeded ([`crate::os`]), with one exception the simulator cannot reach on
//! a default build: tokio seeds its thread RNG (the branch order of an
//! unbiased `select!`, the wake order of a `watch`'s waiters) by hashing a
//! counter shared by the whole process. A seed that draws from it can take
//! another path when it runs after other seeds, or beside other tests, than
//! when it runs alone. A new process that runs only the seed's test starts
//! that counter where the replay command will, so the runner asks one
//! whenever it matters: to confirm that a failing seed fails the same way
//! alone, and to tell such a seed from a truly nondeterministic one when a
//! determinism check diverges.
//!
//! The new process is the same executable: for a libtest binary, only the
//! test that is running (libtest names its thread after it) with
//! `--exact`; for any other program, the same arguments. It gets
//! `MOONPOOL_SEED` and two private variables naming the scenario (the how
//! many-th run of this thread) and the file to write its result to, and
//! runs the seed in every scenario of the test, as a replay does.

use std::cell::Cell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::determinism::Nondeterminism;
use super::env::{
    CHECK_DETERMINISM_VAR, ITERATIONS_VAR, REPORT_VAR, SEED_VAR, SEEDS_VAR, SHARD_VAR, TRACE_VAR,
};
use super::iteration::IterationRun;

/// Private: the file a process started to run a seed alone writes to.
const RESULT_VAR: &str = "MOONPOOL_ALONE_RESULT";
/// Private: which run of the test's thread is the one asked about.
const SCENARIO_VAR: &str = "MOONPOOL_ALONE_SCENARIO";

thread_local! {
    /// Runs started on this thread: the same test code starts them in the
    /// same order in every process, so the count names a scenario.
    static RUNS: Cell<u64> = const { Cell::new(0) };
}

/// Numbers the result files of this process.
static FILES: AtomicU64 = AtomicU64::new(0);

/// Counts a run on this thread and returns its scenario number.
pub(crate) fn next_scenario() -> u64 {
    RUNS.with(|runs| {
        let scenario = runs.get();
        runs.set(scenario + 1);
        scenario
    })
}

/// What one seed did when run alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AloneRun {
    pub(crate) seed: u64,
    pub(crate) failure: Option<String>,
    pub(crate) trace_hash: Option<u64>,
    pub(crate) events: u64,
    /// The events as text, `at_ns event`, when they were kept.
    pub(crate) trace: Vec<String>,
}

impl AloneRun {
    pub(crate) fn of(run: &IterationRun) -> Self {
        Self {
            seed: run.seed,
            failure: run.failure.clone(),
            trace_hash: run.trace_hash,
            events: run.events,
            trace: run
                .trace
                .iter()
                .flatten()
                .map(|record| format!("{} {}", record.at.as_nanos(), record.event))
                .collect(),
        }
    }

    /// Whether two runs did the same thing (trace hash, events, failure).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.trace_hash == other.trace_hash
            && self.events == other.events
            && self.failure == other.failure
    }
}

/// This process was started to run one seed of one scenario alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AloneRequest {
    pub(crate) seed: u64,
    pub(crate) scenario: u64,
    pub(crate) result: PathBuf,
}

impl AloneRequest {
    /// The request this process was started with, if any.
    pub(crate) fn from_env() -> Option<Self> {
        let result = std::env::var_os(RESULT_VAR).filter(|path| !path.is_empty())?;
        let scenario = std::env::var(SCENARIO_VAR).ok()?.parse().ok()?;
        let seed = std::env::var(SEED_VAR).ok()?.parse().ok()?;
        Some(Self {
            seed,
            scenario,
            result: PathBuf::from(result),
        })
    }

    /// Hands the parent process the run (best effort: a parent that finds
    /// no file reports that the seed could not be run alone).
    pub(crate) fn answer(&self, run: &AloneRun) {
        if let Ok(json) = serde_json::to_vec(run) {
            let _ = std::fs::write(&self.result, json);
        }
    }
}

/// How to start this program again for one of its tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relauncher {
    exe: PathBuf,
    args: Vec<OsString>,
    scenario: u64,
}

impl Relauncher {
    /// The relauncher for the run about to start on this thread, or `None`
    /// when this program cannot be started again for it (no executable
    /// path, or a libtest binary whose test cannot be named).
    pub(crate) fn for_this_run(scenario: u64) -> Option<Self> {
        let exe = std::env::current_exe().ok()?;
        let args = match std::thread::current().name() {
            // libtest runs each test on a thread named after its path.
            Some(test) if test != "main" => {
                [test, "--exact", "--include-ignored", "--test-threads=1"]
                    .into_iter()
                    .map(OsString::from)
                    .collect()
            }
            _ if in_cargo_deps(&exe) => return None,
            _ => std::env::args_os().skip(1).collect(),
        };
        Some(Self {
            exe,
            args,
            scenario,
        })
    }

    /// Runs `seed` alone in a new process and returns what it did; `None`
    /// if the process could not be started or wrote no result (it panicked
    /// in an earlier scenario, say). `keep_trace` asks for its events.
    pub(crate) fn run_alone(&self, seed: u64, keep_trace: bool) -> Option<AloneRun> {
        let result = std::env::temp_dir().join(format!(
            "moonpool-alone-{}-{}.json",
            std::process::id(),
            FILES.fetch_add(1, Ordering::Relaxed)
        ));
        let status = Command::new(&self.exe)
            .args(&self.args)
            .env(SEED_VAR, seed.to_string())
            .env(RESULT_VAR, &result)
            .env(SCENARIO_VAR, self.scenario.to_string())
            .env(KEEP_TRACE_VAR, if keep_trace { "1" } else { "0" })
            .env(CHECK_DETERMINISM_VAR, "0")
            .env_remove(SEEDS_VAR)
            .env_remove(ITERATIONS_VAR)
            .env_remove(REPORT_VAR)
            .env_remove(TRACE_VAR)
            .env_remove(SHARD_VAR)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let run = status.ok().and_then(|_| read(&result));
        let _ = std::fs::remove_file(&result);
        run
    }
}

/// Private: whether the process running a seed alone keeps its events.
const KEEP_TRACE_VAR: &str = "MOONPOOL_ALONE_TRACE";

/// Whether this process, running a seed alone, was asked for its events.
pub(crate) fn keep_trace_requested() -> bool {
    std::env::var_os(KEEP_TRACE_VAR).is_some_and(|value| value == "1")
}

fn read(path: &Path) -> Option<AloneRun> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// A binary under cargo's `target/<profile>/deps/`: a test harness whose
/// arguments would select other tests.
fn in_cargo_deps(exe: &Path) -> bool {
    exe.parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "deps")
}

/// The first line where two event lists differ, as a sentence.
pub(crate) fn first_difference(a: &AloneRun, b: &AloneRun) -> String {
    let index = a
        .trace
        .iter()
        .zip(&b.trace)
        .position(|(x, y)| x != y)
        .unwrap_or(a.trace.len().min(b.trace.len()));
    let describe = |event: Option<&String>| match event {
        Some(event) => {
            let (at, what) = event.split_once(' ').unwrap_or(("?", event));
            let millis = at.parse::<f64>().map_or(0.0, |ns| ns / 1e6);
            format!("`{what}` at {millis:.3} ms")
        }
        None => "nothing (the run ended)".to_owned(),
    };
    format!(
        "event #{index} differs: first process {}, second process {}",
        describe(a.trace.get(index)),
        describe(b.trace.get(index))
    )
}

/// Two runs of `seed` in this process differed: runs alone, in two new
/// processes, tell whether the seed still replays. `Ok` when they agree.
pub(super) fn judge_divergence(
    relauncher: Option<&Relauncher>,
    seed: u64,
    divergence: Nondeterminism,
) -> Result<(), String> {
    let Some(relauncher) = relauncher else {
        return Err(format!(
            "{divergence} (this program cannot be started again to run the seed alone)"
        ));
    };
    match (
        relauncher.run_alone(seed, true),
        relauncher.run_alone(seed, true),
    ) {
        (Some(first), Some(second)) if first.same_as(&second) => Ok(()),
        (Some(first), Some(second)) => Err(format!(
            "seed {seed} is not deterministic: two runs, each alone in a new process, \
             differ: {}",
            first_difference(&first, &second)
        )),
        _ => Err(format!(
            "{divergence} (and the seed could not be run alone in a new process)"
        )),
    }
}

/// Replays a failing seed alone in a new process; `true` when it fails the
/// same way there. Otherwise the failure says how the replay differs.
pub(super) fn confirm_alone(relauncher: &Relauncher, run: &mut IterationRun) -> bool {
    let Some(alone) = relauncher.run_alone(run.seed, false) else {
        return false;
    };
    if alone.same_as(&AloneRun::of(run)) {
        return true;
    }
    let ended = match &alone.failure {
        None => "passes".to_owned(),
        Some(failure) if Some(failure) == run.failure.as_ref() => format!(
            "fails the same way after other events (trace hash {})",
            alone
                .trace_hash
                .map_or_else(|| "unknown".to_owned(), |h| format!("{h:016x}"))
        ),
        Some(failure) => format!("fails otherwise: {failure}"),
    };
    if let Some(failure) = run.failure.as_mut() {
        failure.push_str(&format!(
            "; run alone (as its replay command runs it) the seed {ended}: its path \
             depends on what ran before it in this process (tokio's per-process RNG: \
             an unbiased select!, a watch with several waiters)"
        ));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(trace: &[&str]) -> AloneRun {
        AloneRun {
            seed: 1,
            failure: None,
            trace_hash: Some(7),
            events: trace.len() as u64,
            trace: trace.iter().map(|line| (*line).to_owned()).collect(),
        }
    }

    #[test]
    fn scenarios_are_numbered_per_thread_in_order() {
        std::thread::spawn(|| {
            assert_eq!((next_scenario(), next_scenario()), (0, 1));
        })
        .join()
        .unwrap();
        std::thread::spawn(|| assert_eq!(next_scenario(), 0))
            .join()
            .unwrap();
    }

    #[test]
    fn the_first_difference_names_the_event_and_its_time() {
        let a = run(&["1000000 host started", "2500000 a -> b 8 bytes"]);
        let b = run(&["1000000 host started", "3000000 a -> b 4 bytes"]);
        assert_eq!(
            first_difference(&a, &b),
            "event #1 differs: first process `a -> b 8 bytes` at 2.500 ms, \
             second process `a -> b 4 bytes` at 3.000 ms"
        );
        let short = run(&["1000000 host started"]);
        assert!(first_difference(&short, &a).contains("first process nothing"));
    }

    #[test]
    fn a_run_survives_its_trip_through_a_file() {
        let path = std::env::temp_dir().join(format!("moonpool-alone-test-{}", std::process::id()));
        let request = AloneRequest {
            seed: 1,
            scenario: 0,
            result: path.clone(),
        };
        let sent = run(&["5 host started"]);
        request.answer(&sent);
        assert_eq!(read(&path), Some(sent));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_test_harness_without_a_test_name_cannot_be_relaunched() {
        assert!(in_cargo_deps(Path::new("/x/target/debug/deps/sim-0123")));
        assert!(!in_cargo_deps(Path::new(
            "/x/target/debug/examples/ping_pong"
        )));
    }
}
