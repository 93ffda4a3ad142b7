//! What a run found: the value `run()` returns and `MOONPOOL_REPORT` writes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::assertions::Coverage;
use crate::knobs::{ChangedKnobs, DrawnKnobs, knob_hash};

/// One failed iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IterationFailure {
    /// The iteration's seed.
    pub seed: u64,
    /// The first thing that went wrong (an `always!`, an invariant, a
    /// workload error, the simulator).
    pub message: String,
    /// The command that replays this seed.
    pub replay: String,
    /// Whether the seed, run alone in a new process as `replay` runs it,
    /// failed the same way (same message and trace hash): `None` when it
    /// was not tried (see
    /// [`SimulationBuilder::replay_failures_alone`](super::SimulationBuilder::replay_failures_alone)).
    #[serde(default)]
    pub replays_alone: Option<bool>,
    /// The configurations the iteration drew, by name, when its knobs were
    /// randomized (see [`crate::knobs`]); empty otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub knobs: DrawnKnobs,
    /// Of [`knobs`](Self::knobs), those that differ from the configurations
    /// the test gave, by dotted path (`transport.peer.queue_capacity`):
    /// what the failure is printed with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub knob_changes: ChangedKnobs,
}

/// The outcome of a run: iterations, failures with their seeds, coverage,
/// and how much was simulated how fast.
///
/// As JSON (`MOONPOOL_REPORT`), the keys are the field names; `sometimes`
/// and `always` come from [`Coverage`], and `trace_hashes` maps each seed
/// (as a string) to its event-trace hash in hex.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// Iterations run.
    pub iterations: u64,
    /// Failed iterations, in the order they ran.
    pub failures: Vec<IterationFailure>,
    /// `sometimes!` and `always!` coverage over all iterations.
    #[serde(flatten)]
    pub coverage: Coverage,
    /// Whether the run asked for every `sometimes!` to be seen.
    pub coverage_required: bool,
    /// Network events processed, over all iterations.
    pub events: u64,
    /// Simulated time, over all iterations, in seconds.
    pub sim_seconds: f64,
    /// Wall-clock time of the whole run, in seconds.
    pub wall_seconds: f64,
    /// `events / wall_seconds`.
    pub events_per_second: f64,
    /// Seed → hex hash of that iteration's event trace.
    pub trace_hashes: BTreeMap<u64, String>,
    /// Fault kind → times injected, over all iterations.
    pub faults: BTreeMap<String, u64>,
    /// Times any `buggify!` site fired, over all iterations.
    pub buggify_fired: u64,
    /// Seeds the determinism check ran twice.
    #[serde(default)]
    pub determinism_checked: u64,
    /// Seeds whose two runs in this process differed while two runs alone,
    /// each in a new process, agreed: their path depends on tokio's thread
    /// RNG, which a build without `--cfg tokio_unstable` seeds per process.
    /// They replay alone; a failure of theirs in a sweep may not.
    #[serde(default)]
    pub replays_only_alone: Vec<u64>,
    /// Fingerprint (hex) of the test and the configuration the report came
    /// from — the replay command, hosts, network, faults, budget, seeds,
    /// buggify and quiescence settings — so reports of different tests or
    /// configurations are never merged.
    #[serde(default)]
    pub config_hash: String,
    /// Whether the sweep as a whole (every shard together) requires every
    /// `sometimes!` to be seen; a shard alone does not judge it.
    #[serde(default)]
    pub sweep_requires_coverage: bool,
    /// `[k, n]` when this report is the `k`-th of `n` shards of a sweep.
    #[serde(default)]
    pub shard: Option<[u64; 2]>,
    /// Seed → hex hash ([`knob_hash`]) of the knobs that iteration drew,
    /// for runs that randomize knobs
    /// ([`SimulationBuilder::randomize_knobs`](super::SimulationBuilder::randomize_knobs));
    /// empty otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub knob_hashes: BTreeMap<u64, String>,
}

impl SimulationReport {
    /// `sometimes!` names no iteration saw true.
    pub fn missing_sometimes(&self) -> Vec<&str> {
        self.coverage.missing()
    }

    /// No iteration failed and, if the run asked for it, every
    /// `sometimes!` was seen (and there was at least one).
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && (!self.coverage_required || self.coverage.is_complete())
    }

    /// The failure of `seed`, if it failed.
    pub fn failure(&self, seed: u64) -> Option<&IterationFailure> {
        self.failures.iter().find(|failure| failure.seed == seed)
    }

    /// Panics with the full report unless [`passed`](Self::passed): the
    /// one-line assertion a test ends with.
    ///
    /// # Panics
    /// When the run did not pass; the message lists each failing seed with
    /// its replay command, and the missing `sometimes!` names.
    #[track_caller]
    #[allow(clippy::panic)] // Panicking is this method's purpose, as assert! is.
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("simulation failed\n{self}");
        }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A report holds only strings, numbers and string-keyed maps, which
        // serde_json always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Writes [`to_json`](Self::to_json) to `path`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_json())
    }
}

impl fmt::Display for SimulationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} iterations, {} failed; {} events in {:.1} simulated s, {:.2} wall s ({:.0} events/s)",
            self.iterations,
            self.failures.len(),
            self.events,
            self.sim_seconds,
            self.wall_seconds,
            self.events_per_second,
        )?;
        for failure in &self.failures {
            writeln!(f, "seed {} failed: {}", failure.seed, failure.message)?;
            writeln!(f, "  replay: {}", failure.replay)?;
            if !failure.knobs.is_empty() {
                let changes: Vec<String> = failure
                    .knob_changes
                    .iter()
                    .map(|(path, value)| format!("{path}={value}"))
                    .collect();
                let changes = if changes.is_empty() {
                    "none changed".to_owned()
                } else {
                    changes.join(" ")
                };
                let hash = knob_hash(&failure.knobs);
                writeln!(f, "  knobs {hash:016x}: {changes}")?;
            }
        }
        if !self.replays_only_alone.is_empty() {
            let seeds: Vec<String> = self.replays_only_alone.iter().map(u64::to_string).collect();
            writeln!(
                f,
                "replay only alone (their path depends on tokio's per-process RNG): seeds {}",
                seeds.join(", ")
            )?;
        }
        if !self.coverage.sometimes.is_empty() {
            write!(
                f,
                "{}",
                self.coverage
                    .table_for(self.iterations, self.coverage_required)
            )?;
        }
        let missing = self.missing_sometimes();
        if self.coverage_required && !missing.is_empty() {
            writeln!(f, "never seen: {}", missing.join(", "))?;
        }
        if self.coverage_required && self.coverage.sometimes.is_empty() {
            writeln!(
                f,
                "coverage required, but no sometimes! was evaluated or declared"
            )?;
        }
        if !self.faults.is_empty() {
            let width = self
                .faults
                .keys()
                .map(|kind| kind.chars().count())
                .max()
                .unwrap_or(0)
                .max("faults".len());
            writeln!(f, "{:<width$}  {:>10}", "faults", "injected")?;
            for (kind, count) in &self.faults {
                writeln!(f, "{kind:<width$}  {count:>10}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> SimulationReport {
        let mut report = SimulationReport {
            iterations: 2,
            events: 10,
            ..SimulationReport::default()
        };
        report.coverage.sometimes.insert("seen".into(), 1);
        report.trace_hashes.insert(5, "00000000000000ff".into());
        report
    }

    #[test]
    fn json_has_the_documented_keys() {
        let mut report = report();
        report.failures.push(IterationFailure {
            seed: 5,
            message: "boom".into(),
            replay: "MOONPOOL_SEED=5 x".into(),
            replays_alone: None,
            knobs: DrawnKnobs::new(),
            knob_changes: ChangedKnobs::new(),
        });
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        for key in [
            "iterations",
            "failures",
            "sometimes",
            "events",
            "sim_seconds",
            "wall_seconds",
            "trace_hashes",
        ] {
            assert!(json.get(key).is_some(), "missing {key} in {json}");
        }
        assert_eq!(json["failures"][0]["seed"], 5);
        assert_eq!(json["failures"][0]["message"], "boom");
        assert_eq!(json["sometimes"]["seen"], 1);
        assert_eq!(json["trace_hashes"]["5"], "00000000000000ff");
        let back: SimulationReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn missing_coverage_fails_only_when_required() {
        let mut report = report();
        report.coverage.sometimes.insert("unseen".into(), 0);
        assert!(report.passed());
        report.coverage_required = true;
        assert!(!report.passed());
        assert!(report.to_string().contains("never seen: unseen"));
    }
}
