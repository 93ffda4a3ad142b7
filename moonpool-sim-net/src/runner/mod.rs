//! The simulation runner: seeds, iterations, environment overrides,
//! reports and replay.

mod env;
mod error;
mod progress;
mod replay;
mod report;
mod seeds;

pub use env::{EnvOverrides, ITERATIONS_VAR, REPORT_VAR, SEED_VAR, SEEDS_VAR, TRACE_VAR};
pub use error::RunnerError;
pub use replay::SEED_PLACEHOLDER;
pub use report::{IterationFailure, SimulationReport};
pub use seeds::{DEFAULT_BASE_SEED, Iterations, Seeds, derive_seed};
