//! `moonpool-report`: merges the JSON reports of a sweep's shards.
//!
//! ```text
//! moonpool-report merge [-o merged.json] shard-0.json shard-1.json ...
//! ```
//!
//! Prints the merged report (summary, failing seeds with their replay
//! commands, coverage, faults), writes it as JSON with `-o`, and exits 0
//! when the sweep passed, 1 when a seed failed or a required `sometimes!`
//! was never seen in any shard, 2 on a usage error or reports that cannot
//! be merged (another test or configuration, a missing or repeated shard).

use std::path::PathBuf;
use std::process::ExitCode;

use moonpool_sim_net::runner::SimulationReport;

const USAGE: &str = "usage: moonpool-report merge [-o MERGED.json] REPORT.json...

Merges the MOONPOOL_REPORT files of a sweep's shards (MOONPOOL_SHARD=k/n)
into one report; exits 0 if the sweep passed, 1 if not, 2 on an error.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("merge") => {}
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => return usage(&format!("unknown command `{other}`")),
        None => return usage("no command"),
    }
    let mut output = None;
    let mut inputs = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" | "--output" => match args.next() {
                Some(path) => output = Some(PathBuf::from(path)),
                None => return usage("-o needs a path"),
            },
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') => return usage(&format!("unknown flag `{flag}`")),
            path => inputs.push(PathBuf::from(path)),
        }
    }
    if inputs.is_empty() {
        return usage("no report to merge");
    }
    let mut reports = Vec::with_capacity(inputs.len());
    for path in &inputs {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => return fail(&format!("cannot read {}: {error}", path.display())),
        };
        match serde_json::from_str::<SimulationReport>(&text) {
            Ok(report) => reports.push(report),
            Err(error) => return fail(&format!("{} is not a report: {error}", path.display())),
        }
    }
    let merged = match SimulationReport::merge(&reports) {
        Ok(merged) => merged,
        Err(error) => return fail(&error.to_string()),
    };
    print!("{merged}");
    if let Some(path) = &output
        && let Err(error) = merged.write_json(path)
    {
        return fail(&format!("cannot write {}: {error}", path.display()));
    }
    if merged.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("moonpool-report: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}

fn fail(problem: &str) -> ExitCode {
    eprintln!("moonpool-report: {problem}");
    ExitCode::from(2)
}
