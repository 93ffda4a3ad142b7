//! Randomized knobs: the tunables of the stack drawn per seed, and written
//! into the report, so a failing seed names its knobs.
//!
//! FoundationDB randomizes its knobs in simulation
//! (`if (randomize && BUGGIFY) KNOB = …`): code paths that only another
//! setting reaches — a queue of one packet, a ping interval of 50 ms, a
//! backoff that climbs fast, a socket buffer of a few kilobytes — run in
//! every sweep. Here a simulation turns it on with
//! [`SimulationBuilder::randomize_knobs`](crate::runner::SimulationBuilder::randomize_knobs)
//! (off by default: a seed's trace depends on its knobs, so turning it on
//! moves the trace hashes of existing seeds). Then:
//!
//! - the runner draws the network's [`NetConfig`](crate::NetConfig) of
//!   each iteration with [`NetConfig::randomize`](crate::NetConfig::randomize),
//!   under the name `"net"`;
//! - a workload or host draws its own configurations through [`draw`],
//!   for instance moonpool-tower's
//!   `draw("transport", TransportConfig::default(), TransportConfig::randomize)`.
//!
//! Each named configuration is drawn once per iteration, from an RNG
//! stream derived from the seed and the name only, and every later
//! [`draw`] of that name in the iteration returns the same value: all
//! hosts of an iteration share its knobs, a restarted host gets them
//! again, and no other draw of the iteration (latencies, faults, host
//! RNGs) moves. The drawn configurations, as JSON, are the iteration's
//! [`DrawnKnobs`]: their [`knob_hash`] goes into
//! [`SimulationReport::knob_hashes`](crate::runner::SimulationReport::knob_hashes),
//! the knobs themselves into a failing seed's
//! [`IterationFailure::knobs`](crate::runner::IterationFailure::knobs) and
//! onto the runner's track of the seed's timeline. Replaying the seed
//! draws the same knobs.
//!
//! ```
//! use moonpool_sim_net::knobs;
//!
//! // Outside a simulation, or with randomization off, `draw` hands back
//! // the base configuration untouched.
//! let queue = knobs::draw("queue", 1024usize, |base, _rng| base / 2);
//! assert_eq!(queue, 1024);
//! assert!(!knobs::randomizing());
//! ```

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use serde::Serialize;
use serde_json::Value;

use crate::assertions::context::with_context;
use crate::assertions::fail_iteration;
use crate::seed::derive_seed;
use crate::timeline::Timeline;
use crate::trace::Fnv1a64;

/// The probability with which a `randomize` method redraws each knob: 0.25,
/// as `buggify!` fires, so a seed keeps about three quarters of the
/// defaults and a sweep still runs plenty of seeds close to production.
pub const KNOB_PROBABILITY: f64 = 0.25;

/// Tags the knob streams so they never coincide with another stream.
const KNOB_STREAM: u64 = 0x6b6e_6f62_735f_5f5f;

pub(crate) use crate::assertions::knob_table::KnobTable;
pub use crate::assertions::knob_table::{ChangedKnobs, DrawnKnobs};

/// What the table knows of a name, taken out of the thread-local so the
/// draw runs outside its borrow.
enum Lookup<T> {
    Off,
    Drawn(T),
    OtherType,
    Draw { seed: u64 },
}

/// The configuration `name` of this iteration: `base` itself when knobs
/// are not randomized (or outside a simulation); otherwise, the first time
/// in the iteration, `randomize(base, rng)` with an RNG derived from the
/// seed and `name`, recorded in the iteration's [`DrawnKnobs`], and the
/// same value at every later call with that name. `base` should not vary
/// between the calls of one iteration (only the first counts).
///
/// Asking for one name as two types fails the iteration (and hands back
/// `base`): that is a bug of the test.
pub fn draw<T>(name: &'static str, base: T, randomize: impl FnOnce(T, &mut StdRng) -> T) -> T
where
    T: Serialize + Clone + Send + 'static,
{
    let lookup = with_context(|context| {
        if !context.knobs.enabled {
            return Lookup::Off;
        }
        match context.knobs.typed.get(name) {
            Some(value) => match value.downcast_ref::<T>() {
                Some(value) => Lookup::Drawn(value.clone()),
                None => Lookup::OtherType,
            },
            None => Lookup::Draw { seed: context.seed },
        }
    });
    let seed = match lookup {
        None | Some(Lookup::Off) => return base,
        Some(Lookup::Drawn(value)) => return value,
        Some(Lookup::OtherType) => {
            fail_iteration(format!(
                "the knobs `{name}` were drawn as two different types"
            ));
            return base;
        }
        Some(Lookup::Draw { seed }) => seed,
    };
    let as_json = |value: &T| {
        serde_json::to_value(value)
            .unwrap_or_else(|error| serde_json::Value::String(format!("not serializable: {error}")))
    };
    let base_json = as_json(&base);
    let value = randomize(base, &mut knob_rng(seed, name));
    let json = as_json(&value);
    let mut changed = ChangedKnobs::new();
    changes(name, &base_json, &json, &mut changed);
    tracing::debug!(knobs = name, drawn = %json, "knobs drawn");
    with_context(|context| {
        context.knobs.typed.insert(name, Box::new(value.clone()));
        context.knobs.drawn.insert(name.to_owned(), json);
        context.knobs.changed.extend(changed);
    });
    value
}

/// Whether the iteration running on this thread randomizes its knobs.
pub fn randomizing() -> bool {
    with_context(|context| context.knobs.enabled).unwrap_or(false)
}

/// The knobs this iteration drew so far (empty outside a simulation or
/// with randomization off).
pub fn drawn() -> DrawnKnobs {
    with_context(|context| context.knobs.drawn.clone()).unwrap_or_default()
}

/// The hash of an iteration's knobs: FNV-1a 64 of their JSON text (names
/// sorted, fields in declaration order), the same on every platform.
pub fn knob_hash(knobs: &DrawnKnobs) -> u64 {
    let mut hasher = Fnv1a64::new();
    // A map of JSON values always serializes.
    hasher.write(serde_json::to_string(knobs).unwrap_or_default().as_bytes());
    hasher.finish()
}

/// Adds to `out` the leaves of `drawn` that differ from `base`, by dotted
/// path; a duration (`{secs, nanos}`) is one leaf, written as text.
fn changes(path: &str, base: &Value, drawn: &Value, out: &mut ChangedKnobs) {
    if let (Value::Object(base), Value::Object(drawn)) = (base, drawn)
        && as_duration(drawn).is_none()
    {
        for (key, value) in drawn {
            let inner = format!("{path}.{key}");
            changes(&inner, base.get(key).unwrap_or(&Value::Null), value, out);
        }
    } else if base != drawn {
        let leaf = match drawn {
            Value::Object(object) => {
                as_duration(object).map_or_else(|| drawn.clone(), |d| Value::from(format!("{d:?}")))
            }
            _ => drawn.clone(),
        };
        out.insert(path.to_owned(), leaf);
    }
}

/// A `Duration` as serde writes it.
fn as_duration(object: &serde_json::Map<String, Value>) -> Option<Duration> {
    if object.len() != 2 {
        return None;
    }
    let secs = object.get("secs")?.as_u64()?;
    let nanos = u32::try_from(object.get("nanos")?.as_u64()?).ok()?;
    Some(Duration::new(secs, nanos))
}

/// Puts an iteration's knobs on `track` of its timeline at its start, so
/// the timeline names the configuration it ran with.
pub(crate) fn mark(
    timeline: &mut Timeline,
    track: &str,
    drawn: &DrawnKnobs,
    changed: &ChangedKnobs,
) {
    let hash = format!("{:016x}", knob_hash(drawn));
    let mut args: serde_json::Map<String, Value> = drawn
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    args.insert("knob_hash".to_owned(), Value::from(hash.clone()));
    let changed: serde_json::Map<String, Value> = changed
        .iter()
        .map(|(path, value)| (path.clone(), value.clone()))
        .collect();
    args.insert("changed".to_owned(), Value::Object(changed));
    timeline.instant(
        Duration::ZERO,
        track,
        "knobs",
        format!("knobs {hash}"),
        args,
    );
}

/// The RNG the configuration `name` of `seed` is drawn with.
fn knob_rng(seed: u64, name: &str) -> StdRng {
    let mut hasher = Fnv1a64::new();
    hasher.write(name.as_bytes());
    StdRng::seed_from_u64(derive_seed(seed, &[KNOB_STREAM, hasher.finish()]))
}

/// With probability [`KNOB_PROBABILITY`], a value of `low..=high` drawn
/// log-uniformly (a bit length uniformly, then a value of that length);
/// otherwise `value`. Integers only, so a draw is the same on every
/// platform.
pub(crate) fn maybe_log_uniform<R: Rng + ?Sized>(
    rng: &mut R,
    value: usize,
    low: usize,
    high: usize,
) -> usize {
    if !rng.random_bool(KNOB_PROBABILITY) {
        return value;
    }
    let (low, high) = (low.min(high), low.max(high));
    let bits = |x: usize| usize::BITS - x.leading_zeros();
    let length = rng.random_range(bits(low)..=bits(high));
    let (start, end) = match length {
        0 => (0, 0),
        b if b == usize::BITS => (1usize << (b - 1), usize::MAX),
        b => (1usize << (b - 1), (1usize << b) - 1),
    };
    rng.random_range(start.max(low)..=end.min(high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knob_streams_depend_on_the_seed_and_the_name_only() {
        let draw = |seed, name| knob_rng(seed, name).random::<u64>();
        assert_eq!(draw(1, "net"), draw(1, "net"));
        assert_ne!(draw(1, "net"), draw(2, "net"));
        assert_ne!(draw(1, "net"), draw(1, "transport"));
    }

    #[test]
    fn log_uniform_draws_stay_in_range_and_sometimes_keep_the_value() {
        let mut rng = StdRng::seed_from_u64(3);
        let draws: Vec<usize> = (0..2000)
            .map(|_| maybe_log_uniform(&mut rng, 7, 100, 5000))
            .collect();
        let kept = draws.iter().filter(|&&d| d == 7).count();
        assert!((1300..1700).contains(&kept), "kept {kept} of 2000");
        assert!(draws.iter().all(|&d| d == 7 || (100..=5000).contains(&d)));
    }

    #[test]
    fn changes_name_the_leaves_that_differ_with_durations_as_text() {
        let base = serde_json::json!({
            "queue": 1024,
            "ping": {"secs": 1, "nanos": 0},
            "inner": {"kept": true, "cap": 5},
        });
        let drawn = serde_json::json!({
            "queue": 7,
            "ping": {"secs": 0, "nanos": 37_500_000},
            "inner": {"kept": true, "cap": 9},
        });
        let mut out = ChangedKnobs::new();
        changes("t", &base, &drawn, &mut out);
        let expected: ChangedKnobs = [
            ("t.inner.cap".to_owned(), Value::from(9)),
            ("t.ping".to_owned(), Value::from("37.5ms")),
            ("t.queue".to_owned(), Value::from(7)),
        ]
        .into();
        assert_eq!(out, expected);
    }

    #[test]
    fn outside_a_simulation_the_base_is_kept_and_nothing_is_drawn() {
        assert_eq!(draw("x", 5u32, |_, _| 6), 5);
        assert!(drawn().is_empty());
        assert_eq!(knob_hash(&DrawnKnobs::new()), knob_hash(&drawn()));
    }
}
