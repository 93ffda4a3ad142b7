//! The one command that replays a failing seed.
//!
//! Derived from how the program was started: a libtest test binary
//! (`target/<profile>/deps/<target>-<hash>`, the test's path as the thread
//! name) gives `cargo test`, an example (`target/<profile>/examples/<name>`)
//! gives `cargo run --example`, anything else the binary's own path. The
//! command carries `MOONPOOL_SEED=<n>` so the same entry point replays the
//! seed. A builder can override the template.
//!
//! Cargo names a test binary after its target with `-` turned into `_`
//! (`tests/peer-sim.rs` builds `deps/peer_sim-<hash>`), but `--test` wants
//! the target's own name, so an underscored name is looked up among the
//! package's `tests/` entries.

use std::path::{Path, PathBuf};

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
    /// `CARGO_MANIFEST_DIR` at run time: where the package's `tests/` are.
    pub(crate) manifest_dir: Option<PathBuf>,
}

impl Invocation {
    pub(crate) fn current() -> Self {
        Self {
            exe: std::env::current_exe().ok(),
            thread: std::thread::current().name().map(str::to_owned),
            package: std::env::var("CARGO_PKG_NAME").ok(),
            manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
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
                    _ => format!("--test {}", self.test_target(target)),
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

    /// The name of the test target whose binary is named `binary`: the
    /// entry of the package's `tests/` (a `NAME.rs` file or a `NAME/`
    /// directory) that cargo would have turned into that name, or `binary`
    /// itself when none is found (a target declared under another path).
    fn test_target(&self, binary: &str) -> String {
        let found = binary.contains('_').then(|| {
            let tests = self.manifest_dir.as_deref()?.join("tests");
            let mut names: Vec<String> = std::fs::read_dir(tests)
                .ok()?
                .filter_map(|entry| {
                    let path = entry.ok()?.path();
                    let name = if path.is_dir() {
                        path.file_name()
                    } else if path.extension().is_some_and(|e| e == "rs") {
                        path.file_stem()
                    } else {
                        None
                    };
                    Some(name?.to_str()?.to_owned())
                })
                .filter(|name| name.replace('-', "_") == binary)
                .collect();
            // The order a directory is listed in is the file system's.
            names.sort();
            names.into_iter().next()
        });
        found.flatten().unwrap_or_else(|| binary.to_owned())
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
            manifest_dir: None,
        }
        .replay_template()
    }

    /// A package directory of its own under the system's temporary
    /// directory, with these entries under `tests/`.
    fn package_with_tests(name: &str, files: &[&str], dirs: &[&str]) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("moonpool-replay-{name}-{}", std::process::id()));
        let tests = root.join("tests");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&tests).unwrap();
        for file in files {
            std::fs::write(tests.join(file), "").unwrap();
        }
        for dir in dirs {
            std::fs::create_dir_all(tests.join(dir)).unwrap();
        }
        root
    }

    #[test]
    fn a_hyphenated_test_target_is_named_as_written_not_as_compiled() {
        let root = package_with_tests(
            "hyphen",
            &["peer-sim.rs", "peer_simx.rs", "notes-sim.md"],
            &["rpc-sim"],
        );
        let invocation = |binary: &str| Invocation {
            exe: Some(format!("/w/target/debug/deps/{binary}-0123456789abcdef").into()),
            thread: Some("scenario::crash".to_owned()),
            package: Some("moonpool-tests".to_owned()),
            manifest_dir: Some(root.clone()),
        };
        assert_eq!(
            fill(&invocation("peer_sim").replay_template(), 5),
            "MOONPOOL_SEED=5 cargo test -p moonpool-tests --test peer-sim -- scenario::crash --exact --include-ignored"
        );
        assert!(
            invocation("rpc_sim")
                .replay_template()
                .contains("--test rpc-sim --"),
            "a test target in a directory"
        );
        // Underscored names that are files as written stay as they are, and
        // a name with no entry (a target declared elsewhere) is kept.
        assert!(
            invocation("peer_simx")
                .replay_template()
                .contains("--test peer_simx --")
        );
        assert!(
            invocation("notes_sim")
                .replay_template()
                .contains("--test notes_sim --"),
            "only .rs files and directories are test targets"
        );
        std::fs::remove_dir_all(root).unwrap();
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
