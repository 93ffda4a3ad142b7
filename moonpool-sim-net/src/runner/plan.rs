//! The plan of a run: the builder's settings after the environment
//! overrides, and the seed of each of its iterations.

use std::path::PathBuf;

use super::alone::AloneRequest;
use super::builder::SimulationBuilder;
use super::env::EnvOverrides;
use super::error::RunnerError;
use super::seeds::{Iterations, Seeds};

/// The builder's settings after the environment overrides.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) seeds: Seeds,
    pub(super) limit: u64,
    /// `limit`, or fewer if the seeds run out first.
    pub(super) count: u64,
    pub(super) until_covered: bool,
    pub(super) coverage_required: bool,
    pub(super) report: Option<PathBuf>,
    pub(super) trace: Option<PathBuf>,
    /// How many of the first seeds the determinism check runs twice.
    pub(super) determinism_seeds: u64,
    /// How many failing seeds are replayed alone.
    pub(super) failures_replayed_alone: usize,
    /// Set when this process was started to run one seed alone.
    pub(super) alone: Option<AloneRequest>,
    /// Worker threads running iterations side by side.
    pub(super) jobs: u64,
    /// `(k, n)`: this run is the `k`-th of `n` disjoint shards of the
    /// sweep: the seeds at indices `k`, `k + n`, `k + 2n`, ….
    pub(super) shard: Option<(u64, u64)>,
}

impl Plan {
    pub(super) fn new(
        builder: &SimulationBuilder,
        env: &EnvOverrides,
    ) -> Result<Self, RunnerError> {
        let until_covered = matches!(builder.iterations, Iterations::UntilAllSometimes { .. });
        let mut plan = Self {
            seeds: builder.seeds.clone(),
            limit: env.iterations.unwrap_or(builder.iterations.limit()),
            count: 0,
            until_covered,
            coverage_required: until_covered || builder.require_coverage,
            report: env.report.clone(),
            trace: env.trace.clone(),
            determinism_seeds: env.check_determinism.unwrap_or(builder.determinism_seeds),
            failures_replayed_alone: builder.failures_replayed_alone,
            alone: None,
            jobs: env.jobs.unwrap_or(builder.jobs),
            shard: env.shard,
        };
        // Replaying one seed or a slice of a sweep runs exactly those seeds,
        // and cannot judge the sweep's coverage.
        if let Some(seed) = env.seed {
            plan.seeds = Seeds::List(vec![seed]);
            plan.limit = 1;
        } else if let Some(range) = &env.seeds {
            plan.seeds = Seeds::Range(range.clone());
            plan.limit = env.iterations.unwrap_or(u64::MAX);
        }
        if env.seed.is_some() {
            plan.shard = None;
        }
        // A shard cannot judge the sweep's coverage either: the merged
        // reports of all shards do.
        if env.seed.is_some() || env.seeds.is_some() || plan.shard.is_some() {
            plan.until_covered = false;
            plan.coverage_required = false;
        }
        let whole = plan
            .seeds
            .len()
            .map_or(plan.limit, |len| len.min(plan.limit));
        plan.count = match plan.shard {
            Some((k, n)) => whole.saturating_sub(k).div_ceil(n),
            None => whole,
        };
        if plan.count == 0 {
            return Err(RunnerError::NoIterations {
                limit: plan.limit,
                seeds: plan
                    .seeds
                    .len()
                    .map_or_else(|| "endless".to_owned(), |len| len.to_string()),
            });
        }
        if plan.trace.is_some() && plan.count != 1 {
            return Err(RunnerError::TraceNeedsOneSeed {
                iterations: plan.count,
            });
        }
        Ok(plan)
    }

    /// This process runs `seed` alone for its parent: one iteration, no
    /// check, nothing written but the answer (for the scenario asked about).
    pub(super) fn alone(mut self, seed: u64, answer: Option<AloneRequest>) -> Self {
        self.seeds = Seeds::List(vec![seed]);
        self.limit = 1;
        self.count = 1;
        self.until_covered = false;
        self.coverage_required = false;
        self.report = None;
        self.trace = None;
        self.determinism_seeds = 0;
        self.failures_replayed_alone = 0;
        self.alone = answer;
        self.shard = None;
        self
    }

    /// The seed of the `index`-th iteration of this run (of this shard).
    pub(super) fn seed(&self, index: u64) -> Option<u64> {
        let index = match self.shard {
            Some((k, n)) => index.checked_mul(n)?.checked_add(k)?,
            None => index,
        };
        self.seeds.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(builder: SimulationBuilder, env: EnvOverrides) -> Plan {
        Plan::new(&builder, &env).unwrap()
    }

    fn until_covered() -> SimulationBuilder {
        SimulationBuilder::new().iterations(Iterations::UntilAllSometimes { max: 50 })
    }

    #[test]
    fn the_builder_decides_without_overrides() {
        let plan = plan(until_covered(), EnvOverrides::default());
        assert_eq!(
            (plan.count, plan.until_covered, plan.coverage_required),
            (50, true, true)
        );
        assert_eq!(plan.seeds, Seeds::default());
    }

    #[test]
    fn one_seed_replays_exactly_that_seed_without_judging_coverage() {
        let env = EnvOverrides {
            seed: Some(42),
            iterations: Some(1000),
            ..EnvOverrides::default()
        };
        let plan = plan(until_covered(), env);
        assert_eq!((plan.seeds, plan.count), (Seeds::List(vec![42]), 1));
        assert!(!plan.until_covered && !plan.coverage_required);
    }

    #[test]
    fn a_seed_range_runs_the_whole_slice_or_the_iteration_count() {
        let slice = |iterations| EnvOverrides {
            seeds: Some(100..200),
            iterations,
            ..EnvOverrides::default()
        };
        let whole = plan(until_covered(), slice(None));
        assert_eq!((whole.seeds.get(0), whole.count), (Some(100), 100));
        assert!(!whole.coverage_required);
        assert_eq!(plan(until_covered(), slice(Some(10))).count, 10);
    }

    #[test]
    fn the_iteration_count_scales_the_builders_rule() {
        let env = EnvOverrides {
            iterations: Some(7),
            ..EnvOverrides::default()
        };
        let plan = plan(until_covered(), env);
        assert_eq!((plan.count, plan.until_covered), (7, true));
    }

    #[test]
    fn a_run_without_iterations_is_an_error() {
        let zero = EnvOverrides {
            iterations: Some(0),
            ..EnvOverrides::default()
        };
        let error = Plan::new(&SimulationBuilder::new(), &zero).unwrap_err();
        assert!(matches!(error, RunnerError::NoIterations { limit: 0, .. }));
        let no_seeds = SimulationBuilder::new().seeds(Seeds::Range(5..5));
        let error = Plan::new(&no_seeds, &EnvOverrides::default()).unwrap_err();
        assert!(matches!(error, RunnerError::NoIterations { .. }));
    }

    #[test]
    fn a_trace_needs_one_seed() {
        let env = EnvOverrides {
            trace: Some("t.json".into()),
            ..EnvOverrides::default()
        };
        let error = Plan::new(&SimulationBuilder::new(), &env).unwrap_err();
        assert!(matches!(
            error,
            RunnerError::TraceNeedsOneSeed { iterations: 100 }
        ));
        let one = EnvOverrides {
            seed: Some(1),
            ..env
        };
        assert!(Plan::new(&SimulationBuilder::new(), &one).is_ok());
    }
}
