//! The timeline being recorded on this thread, if any.
//!
//! Only the traced iteration records; everywhere else the hooks are a
//! cheap thread-local check.

use std::cell::RefCell;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Timeline, USER_TRACK};

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

#[derive(Debug)]
struct Recorder {
    /// Simulated instant the iteration started; set from inside the
    /// iteration's runtime, whose paused clock is the simulated one.
    origin: Option<tokio::time::Instant>,
    timeline: Timeline,
}

/// Records user events into `timeline` on this thread until finished or
/// dropped.
#[derive(Debug)]
pub(crate) struct RecorderGuard(());

impl RecorderGuard {
    pub(crate) fn install(timeline: Timeline) -> Self {
        RECORDER.with(|recorder| {
            *recorder.borrow_mut() = Some(Recorder {
                origin: None,
                timeline,
            });
        });
        Self(())
    }

    /// Stops recording and returns what was recorded.
    pub(crate) fn finish(self) -> Option<Timeline> {
        RECORDER.with(|recorder| recorder.borrow_mut().take().map(|r| r.timeline))
    }
}

impl Drop for RecorderGuard {
    fn drop(&mut self) {
        let _ = RECORDER.try_with(|recorder| {
            if let Ok(mut recorder) = recorder.try_borrow_mut() {
                recorder.take();
            }
        });
    }
}

/// Marks now (on the iteration's simulated clock) as time zero. Called
/// from inside the iteration's runtime as it starts.
pub(crate) fn start_clock() {
    with_recorder(|recorder| {
        recorder
            .origin
            .get_or_insert_with(tokio::time::Instant::now);
    });
}

/// Whether a timeline is being recorded on this thread.
pub(crate) fn is_recording() -> bool {
    with_recorder(|_| ()).is_some()
}

/// Adds a user event at the current simulated time.
pub(crate) fn record_user_event(track: Option<&str>, name: String, args: Map<String, Value>) {
    with_recorder(|recorder| {
        let now = tokio::time::Instant::now();
        let at = recorder
            .origin
            .map(|origin| now.saturating_duration_since(origin))
            .unwrap_or(Duration::ZERO);
        recorder
            .timeline
            .instant(at, track.unwrap_or(USER_TRACK), "user", name, args);
    });
}

fn with_recorder<R>(f: impl FnOnce(&mut Recorder) -> R) -> Option<R> {
    RECORDER
        .try_with(|recorder| recorder.try_borrow_mut().ok()?.as_mut().map(f))
        .ok()
        .flatten()
}
