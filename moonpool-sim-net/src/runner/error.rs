//! Why a run could not be carried out (as opposed to an iteration failing,
//! which the report records).

use std::io;
use std::path::PathBuf;

use super::report::SimulationReport;

/// A run that failed, could not start, or could not write its outputs.
///
/// `Debug` shows the same text as `Display`, so a test returning
/// `Result<(), Box<dyn Error>>` that ends in this error prints the report.
#[derive(thiserror::Error)]
pub enum RunnerError {
    /// A seed failed, or coverage the run required is missing. The report
    /// lists every failing seed with its replay command.
    #[error("the simulation failed\n{0}")]
    Failed(Box<SimulationReport>),
    /// An environment variable is set to a value that does not parse.
    #[error("{var}={value:?} is invalid: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// What it was set to.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// Two environment variables that cannot be combined are both set.
    #[error("{first} and {second} cannot both be set")]
    ConflictingEnv {
        /// One variable.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// The run would have no iteration at all (`MOONPOOL_ITERATIONS=0`, an
    /// iteration count of 0, or an empty list or range of seeds): it would
    /// pass without testing anything.
    #[error(
        "the run has no iteration (iteration count {limit}, {seeds} seeds): set MOONPOOL_ITERATIONS or the seeds to at least one"
    )]
    NoIterations {
        /// The iteration count after the environment overrides.
        limit: u64,
        /// How many seeds there were (`endless` for derived seeds).
        seeds: String,
    },
    /// A timeline was asked for a run of more than one seed.
    #[error(
        "MOONPOOL_TRACE writes the timeline of one seed, but this run has up to {iterations} iterations: set MOONPOOL_SEED too"
    )]
    TraceNeedsOneSeed {
        /// How many iterations the run would have had.
        iterations: u64,
    },
    /// The report could not be written.
    #[error("cannot write the report to {path}: {source}")]
    WriteReport {
        /// Where it was to go.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The timeline could not be written.
    #[error("cannot write the timeline to {path}: {source}")]
    WriteTrace {
        /// Where it was to go.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

impl std::fmt::Debug for RunnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl RunnerError {
    /// The report of a [`RunnerError::Failed`] run.
    pub fn report(&self) -> Option<&SimulationReport> {
        match self {
            Self::Failed(report) => Some(report),
            _ => None,
        }
    }

    /// The report of a [`RunnerError::Failed`] run, by value.
    pub fn into_report(self) -> Option<SimulationReport> {
        match self {
            Self::Failed(report) => Some(*report),
            _ => None,
        }
    }
}
