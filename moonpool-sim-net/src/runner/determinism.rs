//! The determinism check: one seed run twice must give the same events.

use std::time::Duration;

use super::builder::SimulationBuilder;
use super::iteration::{IterationOptions, IterationRun};
use crate::trace::TraceRecord;

/// A seed whose two runs in the same process did not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seed {seed} is not deterministic: {detail}")]
pub struct Nondeterminism {
    /// The seed.
    pub seed: u64,
    /// The first run's trace hash, if known.
    pub first_hash: Option<u64>,
    /// The second run's trace hash, if known.
    pub second_hash: Option<u64>,
    /// The first differing event with its simulated time, or what else
    /// differed.
    pub detail: String,
}

/// A seed that ran twice the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeterministicRun {
    /// The seed.
    pub seed: u64,
    /// The (shared) trace hash, if the iteration got far enough to have one.
    pub trace_hash: Option<u64>,
    /// Network events of each run.
    pub events: u64,
    /// The (shared) failure, if the iteration failed.
    pub failure: Option<String>,
}

impl SimulationBuilder {
    /// Runs `seed` twice in this process and compares the event traces.
    ///
    /// # Errors
    /// The runs differ; the error names the first differing event and its
    /// simulated time (or, for a failing iteration whose events could not
    /// be kept, the differing hashes or failures).
    pub fn verify_determinism(&self, seed: u64) -> Result<DeterministicRun, Nondeterminism> {
        let options = IterationOptions {
            record_trace: true,
            timeline: false,
        };
        let first = self.run_iteration(seed, options);
        let second = self.run_iteration(seed, options);
        compare(&first, &second)?;
        Ok(DeterministicRun {
            seed,
            trace_hash: first.trace_hash,
            events: first.events,
            failure: first.failure,
        })
    }
}

/// Compares two runs of the same seed.
pub(crate) fn compare(first: &IterationRun, second: &IterationRun) -> Result<(), Nondeterminism> {
    let same = first.trace_hash == second.trace_hash
        && first.events == second.events
        && first.failure == second.failure;
    if same {
        return Ok(());
    }
    let detail = match (first.trace.as_deref(), second.trace.as_deref()) {
        (Some(a), Some(b)) if a != b => first_difference(a, b),
        _ if first.failure != second.failure => format!(
            "the runs ended differently: {:?} then {:?}",
            first.failure, second.failure
        ),
        _ => format!(
            "trace hashes {} and {} differ after {} and {} events (the events were not kept)",
            hex(first.trace_hash),
            hex(second.trace_hash),
            first.events,
            second.events
        ),
    };
    Err(Nondeterminism {
        seed: first.seed,
        first_hash: first.trace_hash,
        second_hash: second.trace_hash,
        detail,
    })
}

/// The simulated time of the first event where two runs differ, when
/// both kept their events.
pub(crate) fn divergence_time(first: &IterationRun, second: &IterationRun) -> Option<Duration> {
    let (a, b) = (first.trace.as_deref()?, second.trace.as_deref()?);
    let index = a.iter().zip(b).position(|(x, y)| x != y);
    let index = index.unwrap_or(a.len().min(b.len()));
    a.get(index)
        .or_else(|| b.get(index))
        .map(|record| record.at)
}

fn hex(hash: Option<u64>) -> String {
    hash.map_or_else(|| "unknown".to_owned(), |hash| format!("{hash:016x}"))
}

/// Describes the first index where two traces differ.
fn first_difference(a: &[TraceRecord], b: &[TraceRecord]) -> String {
    let index = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let describe = |record: Option<&TraceRecord>| match record {
        Some(record) => format!("`{}` at {}", record.event, millis(record.at)),
        None => "nothing (the run ended)".to_owned(),
    };
    format!(
        "event #{index} differs: first run {}, second run {}",
        describe(a.get(index)),
        describe(b.get(index))
    )
}

fn millis(at: Duration) -> String {
    format!("{:.3} ms", at.as_secs_f64() * 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::NetEvent;

    fn record(ms: u64, len: u32) -> TraceRecord {
        TraceRecord {
            at: Duration::from_millis(ms),
            event: NetEvent::Segment {
                from: "10.0.0.1:1".parse().unwrap(),
                to: "10.0.0.2:2".parse().unwrap(),
                len,
                digest: 0xabcd_0123,
            },
        }
    }

    #[test]
    fn first_difference_names_the_event_and_its_time() {
        let a = [record(1, 8), record(2, 8)];
        let b = [record(1, 8), record(3, 4)];
        assert_eq!(
            first_difference(&a, &b),
            "event #1 differs: first run `10.0.0.1:1 -> 10.0.0.2:2 8 bytes (digest abcd0123)` \
             at 2.000 ms, second run `10.0.0.1:1 -> 10.0.0.2:2 4 bytes (digest abcd0123)` \
             at 3.000 ms"
        );
    }

    #[test]
    fn a_shorter_run_ends_where_the_other_goes_on() {
        let a = [record(1, 8)];
        let b = [record(1, 8), record(2, 8)];
        assert!(first_difference(&a, &b).contains("first run nothing (the run ended)"));
    }
}
