//! Merging the reports of a sweep's shards into the report of the sweep.

use std::collections::BTreeMap;

use super::report::SimulationReport;

/// Why shard reports cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// No report was given.
    #[error("no report to merge")]
    Empty,
    /// A report comes from another test or configuration than the first.
    #[error(
        "report #{index} comes from another test or configuration (config hash {other}, the first report's is {first})"
    )]
    DifferentConfig {
        /// Index (from 0) of the report that differs.
        index: usize,
        /// The first report's fingerprint.
        first: String,
        /// The differing report's fingerprint.
        other: String,
    },
    /// Two reports ran the same seed to different traces: the sweep is not
    /// deterministic, or they are not of one build.
    #[error("seed {seed} has trace hash {first} in one report and {second} in another")]
    ConflictingHash {
        /// The seed.
        seed: u64,
        /// One hash.
        first: String,
        /// The other.
        second: String,
    },
    /// Two reports claim the same shard.
    #[error("shard {k}/{n} appears twice")]
    DuplicateShard {
        /// The shard's index.
        k: u64,
        /// The shard count.
        n: u64,
    },
    /// The shards given are not all shards of one sweep.
    #[error("shards of {n} expected, {missing} missing ({given} given)")]
    MissingShards {
        /// The shard count the reports name.
        n: u64,
        /// How many of them were given.
        given: usize,
        /// The missing shard indices.
        missing: String,
    },
}

impl SimulationReport {
    /// Merges the reports of a sweep's shards (or of several runs of one
    /// test and configuration) into one: iterations, events, simulated and
    /// wall time, fault and buggify counts add up; failures are listed by
    /// seed; coverage adds up and is judged as the sweep requires; trace
    /// hashes are joined.
    ///
    /// # Errors
    /// The reports come from different tests or configurations, a seed has
    /// two trace hashes, a shard appears twice, or shards of the sweep are
    /// missing.
    pub fn merge(reports: &[SimulationReport]) -> Result<SimulationReport, MergeError> {
        let first = reports.first().ok_or(MergeError::Empty)?;
        let mut shards = BTreeMap::new();
        for (index, report) in reports.iter().enumerate() {
            if report.config_hash != first.config_hash {
                return Err(MergeError::DifferentConfig {
                    index,
                    first: first.config_hash.clone(),
                    other: report.config_hash.clone(),
                });
            }
            if let Some([k, n]) = report.shard
                && shards.insert(k, n).is_some()
            {
                return Err(MergeError::DuplicateShard { k, n });
            }
        }
        if let Some(&n) = shards.values().next() {
            let missing: Vec<String> = (0..n)
                .filter(|k| !shards.contains_key(k))
                .map(|k| k.to_string())
                .collect();
            if !missing.is_empty() || shards.values().any(|&other| other != n) {
                return Err(MergeError::MissingShards {
                    n,
                    given: shards.len(),
                    missing: missing.join(", "),
                });
            }
        }
        let mut merged = SimulationReport {
            config_hash: first.config_hash.clone(),
            sweep_requires_coverage: first.sweep_requires_coverage,
            coverage_required: first.sweep_requires_coverage,
            ..SimulationReport::default()
        };
        for report in reports {
            merged.iterations += report.iterations;
            merged.failures.extend(report.failures.iter().cloned());
            for (name, seen) in &report.coverage.sometimes {
                *merged.coverage.sometimes.entry(name.clone()).or_default() += seen;
            }
            for (name, stats) in &report.coverage.always {
                let total = merged.coverage.always.entry(name.clone()).or_default();
                total.evaluations += stats.evaluations;
                total.failures += stats.failures;
            }
            merged.events += report.events;
            merged.sim_seconds += report.sim_seconds;
            merged.wall_seconds += report.wall_seconds;
            for (seed, hash) in &report.trace_hashes {
                match merged.trace_hashes.get(seed) {
                    Some(known) if known != hash => {
                        return Err(MergeError::ConflictingHash {
                            seed: *seed,
                            first: known.clone(),
                            second: hash.clone(),
                        });
                    }
                    _ => {
                        merged.trace_hashes.insert(*seed, hash.clone());
                    }
                }
            }
            merged.knob_hashes.extend(
                report
                    .knob_hashes
                    .iter()
                    .map(|(seed, hash)| (*seed, hash.clone())),
            );
            for (kind, count) in &report.faults {
                *merged.faults.entry(kind.clone()).or_default() += count;
            }
            merged.buggify_fired += report.buggify_fired;
            merged.determinism_checked += report.determinism_checked;
            merged.replays_only_alone.extend(&report.replays_only_alone);
        }
        merged.failures.sort_by_key(|failure| failure.seed);
        merged.replays_only_alone.sort_unstable();
        merged.events_per_second = if merged.wall_seconds > 0.0 {
            merged.events as f64 / merged.wall_seconds
        } else {
            0.0
        };
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(k: u64, n: u64, seeds: &[u64]) -> SimulationReport {
        let mut report = SimulationReport {
            config_hash: "abc".into(),
            iterations: seeds.len() as u64,
            shard: Some([k, n]),
            ..SimulationReport::default()
        };
        for &seed in seeds {
            report.trace_hashes.insert(seed, format!("{seed:016x}"));
        }
        report
    }

    #[test]
    fn shards_add_up() {
        let mut knobs = shard(0, 2, &[1, 3]);
        knobs.knob_hashes.insert(3, "0b".into());
        let merged = SimulationReport::merge(&[shard(1, 2, &[2, 4]), knobs]).unwrap();
        assert_eq!(merged.iterations, 4);
        assert_eq!(merged.trace_hashes.len(), 4);
        assert_eq!(merged.knob_hashes.get(&3).map(String::as_str), Some("0b"));
        assert_eq!(merged.shard, None);
    }

    #[test]
    fn reports_of_another_configuration_are_refused() {
        let mut other = shard(1, 2, &[2]);
        other.config_hash = "def".into();
        let error = SimulationReport::merge(&[shard(0, 2, &[1]), other]).unwrap_err();
        assert!(matches!(
            error,
            MergeError::DifferentConfig { index: 1, .. }
        ));
    }

    #[test]
    fn missing_or_repeated_shards_are_refused() {
        let error = SimulationReport::merge(&[shard(0, 3, &[1]), shard(2, 3, &[3])]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "shards of 3 expected, 1 missing (2 given)"
        );
        let error = SimulationReport::merge(&[shard(0, 2, &[1]), shard(0, 2, &[1])]).unwrap_err();
        assert!(matches!(error, MergeError::DuplicateShard { k: 0, n: 2 }));
    }

    #[test]
    fn one_seed_with_two_hashes_is_refused() {
        let mut other = shard(1, 2, &[1]);
        other.trace_hashes.insert(1, "ffff".into());
        let error = SimulationReport::merge(&[shard(0, 2, &[1]), other]).unwrap_err();
        assert!(matches!(error, MergeError::ConflictingHash { seed: 1, .. }));
    }
}
