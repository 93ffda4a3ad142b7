//! A progress line on stderr for long runs, only when stderr is a terminal.

use std::io::{IsTerminal, Write};

/// The progress line is redrawn at most this often (twice a second).
const REDRAW_INTERVAL_SECS: f64 = 0.5;

/// Wall-clock stopwatch for the report and the progress line.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::disallowed_types)] // Measures wall time for display only; never feeds behaviour.
pub(crate) struct Stopwatch(std::time::Instant);

impl Stopwatch {
    // Wall time for the report and progress line only; never feeds behaviour.
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    pub(crate) fn start() -> Self {
        Self(std::time::Instant::now())
    }

    pub(crate) fn elapsed_secs(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// The progress line: iterations done, failures, rate.
#[derive(Debug)]
pub(crate) struct Progress {
    enabled: bool,
    started: Stopwatch,
    last_draw: f64,
    drawn: bool,
}

impl Progress {
    /// A progress line, drawn only if `wanted` and stderr is a terminal.
    pub(crate) fn new(started: Stopwatch, wanted: bool) -> Self {
        Self {
            enabled: wanted && std::io::stderr().is_terminal(),
            started,
            last_draw: f64::NEG_INFINITY,
            drawn: false,
        }
    }

    /// Redraws the line if stderr is a terminal and the last redraw is old
    /// enough.
    pub(crate) fn update(&mut self, done: u64, limit: u64, failures: usize) {
        if !self.enabled {
            return;
        }
        let now = self.started.elapsed_secs();
        if now - self.last_draw < REDRAW_INTERVAL_SECS {
            return;
        }
        self.last_draw = now;
        self.drawn = true;
        let rate = if now > 0.0 { done as f64 / now } else { 0.0 };
        let mut stderr = std::io::stderr().lock();
        // Progress is best effort: a closed stderr must not fail the run.
        let _ = write!(
            stderr,
            "\r\x1b[2Ksim: {done}/{limit} iterations, {failures} failed, {rate:.1} it/s"
        );
        let _ = stderr.flush();
    }

    /// Clears the line so the final output starts clean.
    pub(crate) fn finish(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            self.drawn = false;
        }
    }
}
