//! The environment variables every simulation run honours.

use std::ffi::OsString;
use std::ops::Range;
use std::path::PathBuf;

use super::error::RunnerError;

/// `MOONPOOL_SEED=<n>`: run exactly this one seed (decimal or `0x` hex).
pub const SEED_VAR: &str = "MOONPOOL_SEED";
/// `MOONPOOL_ITERATIONS=<n>`: replace the iteration count (CI small,
/// nightly large). `0` is an error when the run starts
/// ([`RunnerError::NoIterations`](super::RunnerError::NoIterations)).
pub const ITERATIONS_VAR: &str = "MOONPOOL_ITERATIONS";
/// `MOONPOOL_SEEDS=<a>..<b>` (or `<a>..=<b>`): run exactly the seeds of
/// that range, so a sweep can be sharded across machines.
pub const SEEDS_VAR: &str = "MOONPOOL_SEEDS";
/// `MOONPOOL_REPORT=<path>`: write the run's report there as JSON.
pub const REPORT_VAR: &str = "MOONPOOL_REPORT";
/// `MOONPOOL_TRACE=<path>`: with one seed, write its event timeline there
/// as Chrome trace-event JSON.
pub const TRACE_VAR: &str = "MOONPOOL_TRACE";

/// `MOONPOOL_CHECK_DETERMINISM=<n>` (or `all`): run the first `n` seeds
/// of the sweep twice and fail a seed whose runs differ
/// ([`SimulationBuilder::check_determinism_first`](super::SimulationBuilder::check_determinism_first));
/// `0` turns the check off.
pub const CHECK_DETERMINISM_VAR: &str = "MOONPOOL_CHECK_DETERMINISM";

/// `MOONPOOL_JOBS=<n>` (or `auto`, every core): run up to `n` iterations
/// side by side (default 1); the report does not depend on it.
pub const JOBS_VAR: &str = "MOONPOOL_JOBS";
/// `MOONPOOL_SHARD=<k>/<n>`: run only the `k`-th (from 0) of `n` disjoint
/// shards of the sweep, the seeds at indices `k`, `k + n`, …; merge the
/// shards' reports with `moonpool-report merge`. A CI matrix or a
/// Kubernetes Indexed Job sets it from its index:
/// `MOONPOOL_SHARD=$JOB_COMPLETION_INDEX/8` (see `docs/sweeps.md`).
pub const SHARD_VAR: &str = "MOONPOOL_SHARD";

/// The run settings the environment overrides. Unset variables are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvOverrides {
    /// From [`SEED_VAR`].
    pub seed: Option<u64>,
    /// From [`ITERATIONS_VAR`].
    pub iterations: Option<u64>,
    /// From [`SEEDS_VAR`].
    pub seeds: Option<Range<u64>>,
    /// From [`REPORT_VAR`].
    pub report: Option<PathBuf>,
    /// From [`TRACE_VAR`].
    pub trace: Option<PathBuf>,
    /// From [`CHECK_DETERMINISM_VAR`]: how many of the first seeds to run
    /// twice (`all` is `u64::MAX`).
    pub check_determinism: Option<u64>,
    /// From [`JOBS_VAR`].
    pub jobs: Option<u64>,
    /// From [`SHARD_VAR`]: `(k, n)`.
    pub shard: Option<(u64, u64)>,
}

impl EnvOverrides {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A variable is set to something that does not parse, or
    /// `MOONPOOL_SEED` and `MOONPOOL_SEEDS` are both set.
    pub fn from_env() -> Result<Self, RunnerError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the variables through `lookup` (for tests and embedding).
    ///
    /// # Errors
    /// As [`EnvOverrides::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, RunnerError> {
        let text = |var: &'static str| -> Result<Option<String>, RunnerError> {
            match lookup(var) {
                None => Ok(None),
                Some(value) => match value.into_string() {
                    // An empty selection (`MOONPOOL_SEED=` from an unset CI
                    // variable) must not silently run the whole sweep.
                    Ok(value) if value.trim().is_empty() => Err(invalid(
                        var,
                        "",
                        "empty: unset the variable or give it a value",
                    )),
                    Ok(value) => Ok(Some(value.trim().to_owned())),
                    Err(value) => Err(invalid(var, &value.to_string_lossy(), "not valid UTF-8")),
                },
            }
        };
        let seed = text(SEED_VAR)?
            .map(|value| {
                parse_u64(&value).ok_or_else(|| {
                    invalid(
                        SEED_VAR,
                        &value,
                        "expected an integer seed such as 42 or 0x2a",
                    )
                })
            })
            .transpose()?;
        let iterations = text(ITERATIONS_VAR)?
            .map(|value| {
                parse_u64(&value)
                    .ok_or_else(|| invalid(ITERATIONS_VAR, &value, "expected a count such as 1000"))
            })
            .transpose()?;
        let seeds = text(SEEDS_VAR)?
            .map(|value| {
                parse_seed_range(&value).map_err(|reason| invalid(SEEDS_VAR, &value, reason))
            })
            .transpose()?;
        let check_determinism = text(CHECK_DETERMINISM_VAR)?
            .map(|value| {
                if value.eq_ignore_ascii_case("all") {
                    return Ok(u64::MAX);
                }
                parse_u64(&value).ok_or_else(|| {
                    invalid(
                        CHECK_DETERMINISM_VAR,
                        &value,
                        "expected a count of seeds such as 10, or all",
                    )
                })
            })
            .transpose()?;
        let jobs = text(JOBS_VAR)?
            .map(|value| match parse_u64(&value) {
                Some(jobs) if jobs > 0 => Ok(jobs),
                _ => Err(invalid(
                    JOBS_VAR,
                    &value,
                    "expected a number of threads such as 4",
                )),
            })
            .transpose()?;
        let shard = text(SHARD_VAR)?
            .map(|value| parse_shard(&value).map_err(|reason| invalid(SHARD_VAR, &value, reason)))
            .transpose()?;
        if seed.is_some() && seeds.is_some() {
            return Err(RunnerError::ConflictingEnv {
                first: SEED_VAR,
                second: SEEDS_VAR,
            });
        }
        let path =
            |var| Ok::<_, RunnerError>(lookup(var).filter(|v| !v.is_empty()).map(PathBuf::from));
        Ok(Self {
            seed,
            iterations,
            seeds,
            report: path(REPORT_VAR)?,
            trace: path(TRACE_VAR)?,
            check_determinism,
            jobs,
            shard,
        })
    }
}

fn invalid(var: &'static str, value: &str, reason: &'static str) -> RunnerError {
    RunnerError::InvalidEnv {
        var,
        value: value.to_owned(),
        reason,
    }
}

/// Parses `42`, `1_000` or `0x2a`.
fn parse_u64(text: &str) -> Option<u64> {
    let text = text.replace('_', "");
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Parses `k/n` with `k < n`.
fn parse_shard(text: &str) -> Result<(u64, u64), &'static str> {
    const SHAPE: &str = "expected k/n such as 0/4 (the k-th of n shards, from 0)";
    let (k, n) = text.split_once('/').ok_or(SHAPE)?;
    let k = parse_u64(k.trim()).ok_or(SHAPE)?;
    let n = parse_u64(n.trim()).ok_or(SHAPE)?;
    if n == 0 || k >= n {
        return Err("the shard index must be below the shard count (0/4 to 3/4)");
    }
    Ok((k, n))
}

/// Parses `a..b` or `a..=b` into a non-empty half-open range.
fn parse_seed_range(text: &str) -> Result<Range<u64>, &'static str> {
    const SHAPE: &str = "expected a seed range such as 0..1000 or 0..=999";
    let (start, end, inclusive) = match text.split_once("..=") {
        Some((start, end)) => (start, end, true),
        None => {
            let (start, end) = text.split_once("..").ok_or(SHAPE)?;
            (start, end, false)
        }
    };
    let start = parse_u64(start.trim()).ok_or(SHAPE)?;
    let end = parse_u64(end.trim()).ok_or(SHAPE)?;
    let end = if inclusive {
        end.checked_add(1).ok_or("the range's end overflows u64")?
    } else {
        end
    };
    if start >= end {
        return Err("the range is empty: its start must be below its end");
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(vars: &[(&str, &str)]) -> Result<EnvOverrides, RunnerError> {
        EnvOverrides::from_lookup(|name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| OsString::from(value))
        })
    }

    #[test]
    fn unset_environment_overrides_nothing() {
        assert_eq!(overrides(&[]).unwrap(), EnvOverrides::default());
    }

    #[test]
    fn each_variable_parses() {
        let env = overrides(&[
            (ITERATIONS_VAR, "1_000"),
            (SEEDS_VAR, "100..=199"),
            (REPORT_VAR, "r.json"),
            (TRACE_VAR, "t.json"),
            (CHECK_DETERMINISM_VAR, "12"),
        ])
        .unwrap();
        assert_eq!(env.check_determinism, Some(12));
        let more = overrides(&[(JOBS_VAR, "3"), (SHARD_VAR, "2/8")]).unwrap();
        assert_eq!((more.jobs, more.shard), (Some(3), Some((2, 8))));
        assert_eq!(
            overrides(&[(CHECK_DETERMINISM_VAR, "ALL")])
                .unwrap()
                .check_determinism,
            Some(u64::MAX)
        );
        assert_eq!(env.iterations, Some(1000));
        assert_eq!(env.seeds, Some(100..200));
        assert_eq!(env.report, Some(PathBuf::from("r.json")));
        assert_eq!(env.trace, Some(PathBuf::from("t.json")));
        assert_eq!(overrides(&[(SEED_VAR, "0x2A")]).unwrap().seed, Some(42));
        assert_eq!(
            overrides(&[(SEEDS_VAR, " 3 .. 5 ")]).unwrap().seeds,
            Some(3..5)
        );
    }

    #[test]
    fn invalid_values_are_errors_that_name_the_variable() {
        for (var, value) in [
            (SEED_VAR, "forty-two"),
            (SEED_VAR, "-1"),
            (ITERATIONS_VAR, "1e6"),
            (CHECK_DETERMINISM_VAR, "some"),
            (JOBS_VAR, "0"),
            (SHARD_VAR, "4/4"),
            (SHARD_VAR, "1"),
            (SEEDS_VAR, "5"),
            (SEEDS_VAR, "9..3"),
            (SEEDS_VAR, "3..3"),
            (SEEDS_VAR, "0..=18446744073709551615"),
        ] {
            let error = overrides(&[(var, value)]).unwrap_err();
            let text = error.to_string();
            assert!(text.contains(var) && text.contains(value), "{text}");
        }
    }

    #[test]
    fn an_empty_selection_is_refused_not_ignored() {
        for var in [SEED_VAR, SEEDS_VAR, ITERATIONS_VAR, CHECK_DETERMINISM_VAR] {
            let error = overrides(&[(var, " ")]).unwrap_err();
            assert!(error.to_string().contains(var), "{error}");
        }
        // An empty path is no path.
        assert_eq!(overrides(&[(REPORT_VAR, "")]).unwrap().report, None);
    }

    #[test]
    fn seed_and_seed_range_together_conflict() {
        let error = overrides(&[(SEED_VAR, "1"), (SEEDS_VAR, "0..10")]).unwrap_err();
        assert!(matches!(error, RunnerError::ConflictingEnv { .. }));
    }
}
