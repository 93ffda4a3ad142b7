//! The command-line convention every example follows: `--help` prints the
//! usage and exits 0; an unknown flag or a bad argument prints the error and
//! the usage and exits 2; a bad `MOONPOOL_*` variable exits 2; a run that
//! fails exits 1. Each example includes this file with `#[path]`, and uses
//! what it needs of it.
#![allow(dead_code)]

use std::process::ExitCode;

use moonpool_sim_net::runner::RunnerError;

/// Exit code of a usage error (bad flag, argument or environment).
pub(crate) const USAGE_ERROR: u8 = 2;

/// What the command line asked for.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// Flags given, from those the example knows.
    pub(crate) flags: Vec<&'static str>,
    /// The positional argument, if the example takes one and it was given.
    pub(crate) positional: Option<String>,
}

impl Args {
    /// Whether `flag` was given.
    pub(crate) fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// Parses `std::env::args()` against the example's `flags` and whether it
/// takes one positional argument; on `--help` or a mistake, returns the
/// exit code to end with (after printing).
pub(crate) fn parse(
    usage: &str,
    flags: &[&'static str],
    positional: bool,
) -> Result<Args, ExitCode> {
    parse_from(std::env::args().skip(1), usage, flags, positional)
}

/// [`parse`] over the given arguments (the program name left out).
pub(crate) fn parse_from(
    given: impl IntoIterator<Item = String>,
    usage: &str,
    flags: &[&'static str],
    positional: bool,
) -> Result<Args, ExitCode> {
    let mut args = Args::default();
    for arg in given {
        if arg == "--help" || arg == "-h" {
            println!("{usage}");
            return Err(ExitCode::SUCCESS);
        }
        if let Some(&flag) = flags.iter().find(|&&flag| flag == arg) {
            args.flags.push(flag);
        } else if positional && !arg.starts_with('-') && args.positional.is_none() {
            args.positional = Some(arg);
        } else {
            return Err(usage_error(usage, &format!("unexpected argument `{arg}`")));
        }
    }
    Ok(args)
}

/// Prints `problem` and the usage; the usage-error exit code.
pub(crate) fn usage_error(usage: &str, problem: &str) -> ExitCode {
    eprintln!("error: {problem}\n\n{usage}");
    ExitCode::from(USAGE_ERROR)
}

/// The exit code for a runner error: 1 for a failed run, 2 for anything
/// the user set wrong (the environment, the iteration count, a path).
pub(crate) fn runner_exit(program: &str, error: &RunnerError) -> ExitCode {
    eprintln!("{program}: {error}");
    match error {
        RunnerError::Failed(_) => ExitCode::FAILURE,
        _ => ExitCode::from(USAGE_ERROR),
    }
}

/// `1 seed`, `2 seeds`.
pub(crate) fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, ExitCode> {
        parse_from(
            args.iter().map(|a| (*a).to_owned()),
            "usage: x",
            &["--sim"],
            true,
        )
    }

    #[test]
    fn help_exits_zero_and_mistakes_exit_two() {
        assert_eq!(parse(&["--help"]).unwrap_err(), ExitCode::SUCCESS);
        assert_eq!(parse(&["-h"]).unwrap_err(), ExitCode::SUCCESS);
        assert_eq!(
            parse(&["--bogus"]).unwrap_err(),
            ExitCode::from(USAGE_ERROR)
        );
        assert_eq!(parse(&["a", "b"]).unwrap_err(), ExitCode::from(USAGE_ERROR));
        let args = parse(&["--sim", "5000"]).unwrap();
        assert!(args.has("--sim"));
        assert_eq!(args.positional.as_deref(), Some("5000"));
    }

    #[test]
    fn a_failed_run_exits_one_and_a_bad_environment_two() {
        let failed = RunnerError::Failed(Box::default());
        assert_eq!(runner_exit("x", &failed), ExitCode::FAILURE);
        let bad = RunnerError::ConflictingEnv {
            first: "MOONPOOL_SEED",
            second: "MOONPOOL_SEEDS",
        };
        assert_eq!(runner_exit("x", &bad), ExitCode::from(USAGE_ERROR));
        assert_eq!(plural(1, "seed"), "1 seed");
        assert_eq!(plural(3, "seed"), "3 seeds");
    }
}
