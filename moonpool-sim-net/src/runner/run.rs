//! The run: seeds in order, iteration after iteration, into a report.

use std::path::PathBuf;

use super::alone::{self, AloneRequest, Relauncher, confirm_alone, judge_divergence};
use super::builder::SimulationBuilder;
use super::determinism::{compare, divergence_time};
use super::env::EnvOverrides;
use super::error::RunnerError;
use super::iteration::{IterationRun, RUNNER_TRACK, mark_failure};
use super::progress::{Progress, Stopwatch};
use super::replay::{Invocation, fill};
use super::report::{IterationFailure, SimulationReport};
use super::seeds::{Iterations, Seeds};
use super::workers::Done;

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
    fn new(builder: &SimulationBuilder, env: &EnvOverrides) -> Result<Self, RunnerError> {
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
    fn alone(mut self, seed: u64, answer: Option<AloneRequest>) -> Self {
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

impl SimulationBuilder {
    /// Runs the simulation as configured, after the `MOONPOOL_*`
    /// environment overrides ([`EnvOverrides::from_env`]), and fails if it
    /// did not pass: so `builder.run()?;` in a test fails the test when a
    /// seed fails, with every failing seed and its replay command in the
    /// error's message.
    ///
    /// # Errors
    /// [`RunnerError::Failed`] (carrying the report) when a seed failed or
    /// required coverage is missing; otherwise an environment variable is
    /// invalid, the run would have no iteration
    /// ([`RunnerError::NoIterations`]), or an output file cannot be
    /// written (checked before the first iteration).
    pub fn run(&self) -> Result<SimulationReport, RunnerError> {
        self.run_with(&EnvOverrides::from_env()?)
    }

    /// [`run`](Self::run) with explicit overrides instead of the process
    /// environment: what `MOONPOOL_SEED=42` does is
    /// `run_with(&EnvOverrides { seed: Some(42), ..Default::default() })`.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn run_with(&self, env: &EnvOverrides) -> Result<SimulationReport, RunnerError> {
        let report = self.run_report_with(env)?;
        if report.passed() {
            Ok(report)
        } else {
            Err(RunnerError::Failed(Box::new(report)))
        }
    }

    /// Runs like [`run`](Self::run) but returns the report whether or not
    /// it passed: for programs that print it and choose their exit code, and
    /// tests that look at failures.
    ///
    /// # Errors
    /// As [`run`](Self::run), except [`RunnerError::Failed`].
    #[must_use = "the report may hold failed seeds: check `passed()` or call `assert_passed()`"]
    pub fn run_report(&self) -> Result<SimulationReport, RunnerError> {
        self.run_report_with(&EnvOverrides::from_env()?)
    }

    /// [`run_report`](Self::run_report) with explicit overrides.
    ///
    /// # Errors
    /// As [`run_report`](Self::run_report).
    #[must_use = "the report may hold failed seeds: check `passed()` or call `assert_passed()`"]
    pub fn run_report_with(&self, env: &EnvOverrides) -> Result<SimulationReport, RunnerError> {
        let scenario = alone::next_scenario();
        let mut plan = Plan::new(self, env)?;
        if let Some(request) = AloneRequest::from_env() {
            // This process runs one seed alone for its parent: every
            // scenario of the test runs that seed, as a replay does, and the
            // one the parent asked about answers.
            let seed = request.seed;
            plan = plan.alone(seed, (request.scenario == scenario).then_some(request));
        }
        // Output paths are checked before the first iteration: a sweep
        // must not run for minutes to lose its results to a typo.
        if let Some(path) = &plan.report {
            check_writable(path).map_err(|source| RunnerError::WriteReport {
                path: path.clone(),
                source,
            })?;
        }
        if let Some(path) = &plan.trace {
            check_writable(path).map_err(|source| RunnerError::WriteTrace {
                path: path.clone(),
                source,
            })?;
        }
        let relauncher = (plan.determinism_seeds > 0 || plan.failures_replayed_alone > 0)
            .then(|| Relauncher::for_this_run(scenario))
            .flatten();
        let stopwatch = Stopwatch::start();
        let mut progress = Progress::new(stopwatch, self.progress);
        let replay = self
            .replay_template
            .clone()
            .unwrap_or_else(|| Invocation::current().replay_template());
        let mut report = SimulationReport {
            coverage_required: plan.coverage_required,
            config_hash: self.fingerprint(&format!("{replay}\nlimit {}", plan.limit)),
            sweep_requires_coverage: matches!(
                self.iterations,
                Iterations::UntilAllSometimes { .. }
            ) || self.require_coverage,
            shard: plan.shard.map(|(k, n)| [k, n]),
            ..SimulationReport::default()
        };
        for name in &self.expected_sometimes {
            report.coverage.declare(name);
        }

        let absorb_one = |report: &mut SimulationReport,
                          progress: &mut Progress,
                          done: Done|
         -> Result<bool, RunnerError> {
            let Done {
                seed,
                mut run,
                again,
            } = done;
            if let Some(again) = again {
                report.determinism_checked += 1;
                if let Err(divergence) = compare(&run, &again) {
                    // Only a run that drew from tokio's per-process RNG may
                    // differ for a reason outside the seed's reach.
                    let tokio = run.tokio_rng_draws != Some(0) || again.tokio_rng_draws != Some(0);
                    let judged = if tokio {
                        judge_divergence(relauncher.as_ref(), seed, divergence)
                    } else {
                        Err(divergence.to_string())
                    };
                    match judged {
                        Ok(()) => report.replays_only_alone.push(seed),
                        Err(nondeterminism) => {
                            let at = divergence_time(&run, &again).unwrap_or(run.sim_elapsed);
                            if let Some(timeline) = run.timeline.as_mut() {
                                mark_failure(timeline, at, RUNNER_TRACK, &nondeterminism);
                            }
                            run.failure = Some(match run.failure.take() {
                                Some(failure) => format!("{failure}; and {nondeterminism}"),
                                None => nondeterminism,
                            });
                        }
                    }
                }
            }
            if let (Some(path), Some(timeline)) = (&plan.trace, &run.timeline) {
                timeline
                    .write_chrome_json(path)
                    .map_err(|source| RunnerError::WriteTrace {
                        path: path.clone(),
                        source,
                    })?;
                eprintln!(
                    "timeline of seed {seed} written to {} (open it at https://ui.perfetto.dev)",
                    path.display()
                );
            }
            let replays_alone = match (&run.failure, relauncher.as_ref()) {
                (Some(_), Some(relauncher))
                    if report.failures.len() < plan.failures_replayed_alone =>
                {
                    Some(confirm_alone(relauncher, &mut run))
                }
                _ => None,
            };
            self.absorb(report, run, replays_alone, &replay, progress);
            progress.update(report.iterations, plan.count, report.failures.len());
            Ok(!(plan.until_covered && report.coverage.is_complete()))
        };
        self.iterate(&plan, |done| absorb_one(&mut report, &mut progress, done))?;
        progress.finish();

        report.wall_seconds = stopwatch.elapsed_secs();
        report.events_per_second = if report.wall_seconds > 0.0 {
            report.events as f64 / report.wall_seconds
        } else {
            0.0
        };
        if let Some(path) = &plan.report
            && let Err(error) = report.write_json(path)
        {
            // The run's results must not be lost with the file.
            eprintln!("{report}");
            return Err(error);
        }
        Ok(report)
    }

    fn absorb(
        &self,
        report: &mut SimulationReport,
        run: IterationRun,
        replays_alone: Option<bool>,
        replay: &str,
        progress: &mut Progress,
    ) {
        report.iterations += 1;
        report.events += run.events;
        report.sim_seconds += run.sim_elapsed.as_secs_f64();
        report.buggify_fired += run.buggify_fired;
        report.coverage.absorb(&run.record);
        if let Some(hash) = run.trace_hash {
            report.trace_hashes.insert(run.seed, format!("{hash:016x}"));
        }
        if !run.knobs.is_empty() {
            let hash = crate::knobs::knob_hash(&run.knobs);
            report.knob_hashes.insert(run.seed, format!("{hash:016x}"));
        }
        for (kind, count) in run.faults {
            *report.faults.entry(kind).or_default() += count;
        }
        if let Some(message) = run.failure {
            let failure = IterationFailure {
                seed: run.seed,
                message,
                replay: fill(replay, run.seed),
                replays_alone,
                knobs: run.knobs,
                knob_changes: run.knob_changes,
            };
            if self
                .print_failures
                .unwrap_or_else(print_failures_by_default)
            {
                progress.finish();
                eprintln!(
                    "seed {} failed: {}\n  replay: {}",
                    failure.seed, failure.message, failure.replay
                );
            }
            report.failures.push(failure);
        }
    }
}

/// Creates (or truncates) `path` to learn now whether it can be written.
fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map(drop)
}

/// Failing seeds are printed as they are found only where someone watches:
/// on a terminal, and not under libtest, which captures the output and
/// shows the failure's report anyway (printing it twice).
fn print_failures_by_default() -> bool {
    use std::io::IsTerminal;
    let under_libtest = std::thread::current()
        .name()
        .is_some_and(|name| name != "main");
    std::io::stderr().is_terminal() && !under_libtest
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
