//! The run: seeds in order, iteration after iteration, into a report.

use super::alone::{self, AloneRequest, Relauncher, confirm_alone, judge_divergence};
use super::builder::SimulationBuilder;
use super::determinism::{compare, divergence_time};
use super::env::EnvOverrides;
use super::error::RunnerError;
use super::iteration::{IterationRun, RUNNER_TRACK, mark_failure};
use super::plan::Plan;
use super::progress::{Progress, Stopwatch};
use super::replay::{Invocation, fill};
use super::report::{IterationFailure, SimulationReport};
use super::seeds::Iterations;
use super::workers::Done;

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
            && let Err(source) = report.write_json(path)
        {
            let error = RunnerError::WriteReport {
                path: path.clone(),
                source,
            };
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
