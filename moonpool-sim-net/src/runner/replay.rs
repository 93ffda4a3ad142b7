//! The one command that replays a failing seed.
//!
//! Derived from how the program was started: a libtest test binary
//! (`target/<profile>/deps/<target>-<hash>`, the test's path as the thread
//! name) gives `cargo test`, an example (`target/<profile>/examples/<name>`)
//! gives `cargo run --example`, anything else the binary's own path. The
//! command carries `MOONPOOL_SEED=<n>` so the same entry point replays the
//! seed. A builder can override the template.

use std::path::Path;

use super::env::SEED_VAR;

/// The placeholder a replay template puts the seed in.
pub const SEED_PLACEHOLDER: &str = "{seed}";

/// Where the running program came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// `std::env::current_exe()`.
    pub(crate) exe: Option<std::path::PathBuf>,
    /// The current thread's name (libtest names it after the test).
    pub(crate) thread: Option<String>,
    /// `CARGO_PKG_NAME` at run time (cargo sets it for `run` and `test`).
    pub(crate) package: Option<String>,
}

impl Invocation {
    pub(crate) fn current() -> Self {
        Self {
            exe: std::env::current_exe().ok(),
            thread: std::thread::current().name().map(str::to_owned),
            package: std::env::var("CARGO_PKG_NAME").ok(),
        }
    }

    /// The replay template for this invocation, with [`SEED_PLACEHOLDER`].
    pub(crate) fn replay_template(&self) -> String {
        let prefix = format!("{SEED_VAR}={SEED_PLACEHOLDER}");
        let Some(exe) = self.exe.as_deref() else {
            return format!("{prefix} <this program>");
        };
        let dir = exe
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str());
        let stem = exe.file_stem().and_then(|n| n.to_str()).map(strip_hash);
        let release = if exe.components().any(|c| c.as_os_str() == "release") {
            " --release"
        } else {
            ""
        };
        let package = self
            .package
            .as_deref()
            .map(|p| format!(" -p {p}"))
            .unwrap_or_default();
        match (dir, stem) {
            (Some("deps"), Some(target)) => {
                let kind = match &self.package {
                    Some(package) if package.replace('-', "_") == target => "--lib".to_owned(),
                    _ => format!("--test {target}"),
                };
                let filter = match self.thread.as_deref() {
                    // libtest runs each test on a thread named after it;
                    // `--include-ignored` also reaches `#[ignore]`d sweeps.
                    Some(test) if test != "main" => {
                        format!(" -- {test} --exact --include-ignored")
                    }
                    _ => String::new(),
                };
                format!("{prefix} cargo test{release}{package} {kind}{filter}")
            }
            (Some("examples"), Some(example)) => {
                format!("{prefix} cargo run{release}{package} --example {example}")
            }
            _ => format!("{prefix} {}", exe.display()),
        }
    }
}

/// Fills a replay template with a seed.
pub(crate) fn fill(template: &str, seed: u64) -> String {
    template.replace(SEED_PLACEHOLDER, &seed.to_string())
}

/// Drops cargo's `-<16 hex digits>` suffix from a binary's stem.
fn strip_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(exe: &str, thread: Option<&str>, package: Option<&str>) -> String {
        Invocation {
            exe: Some(exe.into()),
            thread: thread.map(str::to_owned),
            package: package.map(str::to_owned),
        }
        .replay_template()
    }

    #[test]
    fn integration_test_replays_the_exact_test() {
        let command = template(
            "/w/target/debug/deps/runner_replay-0123456789abcdef",
            Some("sweep::failing_seed_replays"),
            Some("moonpool-sim-net"),
        );
        assert_eq!(
            fill(&command, 42),
            "MOONPOOL_SEED=42 cargo test -p moonpool-sim-net --test runner_replay -- sweep::failing_seed_replays --exact --include-ignored"
        );
    }

    #[test]
    fn unit_test_of_the_package_library_uses_lib() {
        let command = template(
            "/w/target/debug/deps/moonpool_sim_net-0123456789abcdef",
            Some("runner::tests::x"),
            Some("moonpool-sim-net"),
        );
        assert!(
            command.ends_with(
                "cargo test -p moonpool-sim-net --lib -- runner::tests::x --exact --include-ignored"
            ),
            "{command}"
        );
    }

    #[test]
    fn example_in_release_replays_with_cargo_run() {
        let command = template(
            "/w/target/release/examples/sim_echo",
            Some("main"),
            Some("examples"),
        );
        assert_eq!(
            fill(&command, 7),
            "MOONPOOL_SEED=7 cargo run --release -p examples --example sim_echo"
        );
    }

    #[test]
    fn other_binaries_replay_by_path() {
        let command = template("/usr/local/bin/my-sim", Some("main"), None);
        assert_eq!(fill(&command, 1), "MOONPOOL_SEED=1 /usr/local/bin/my-sim");
    }

    #[test]
    fn test_without_a_named_thread_runs_the_whole_target() {
        let command = template("/w/target/debug/deps/echo-0123456789abcdef", None, None);
        assert_eq!(fill(&command, 3), "MOONPOOL_SEED=3 cargo test --test echo");
    }
}
