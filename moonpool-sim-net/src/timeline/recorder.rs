//! The timeline being recorded on this thread, if any.
//!
//! Only the traced iteration records; everywhere else the hooks are a
//! cheap thread-local check.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Timeline, USER_TRACK};

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

#[derive(Debug)]
struct Recorder {
    /// Simulated instant the iteration started, learnt from the first event
    /// emitted inside a host (where [`crate::SimHandle`] knows the elapsed
    /// simulated time), for events emitted outside any host.
    origin: Option<tokio::time::Instant>,
    /// Host name or address → track name.
    aliases: BTreeMap<String, String>,
    timeline: Timeline,
}

/// Records user events into `timeline` on this thread until finished or
/// dropped.
#[derive(Debug)]
pub(crate) struct RecorderGuard(());

impl RecorderGuard {
    pub(crate) fn install(timeline: Timeline, aliases: BTreeMap<String, String>) -> Self {
        RECORDER.with(|recorder| {
            *recorder.borrow_mut() = Some(Recorder {
                origin: None,
                aliases,
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

/// Whether a timeline is being recorded on this thread.
pub(crate) fn is_recording() -> bool {
    with_recorder(|_| ()).is_some()
}

/// Adds a user event at the current simulated time, on the track `host`
/// (a host name or address) maps to.
pub(crate) fn record_user_event(host: Option<&str>, name: String, args: Map<String, Value>) {
    // Ask the simulator before borrowing the recorder: it takes its own lock.
    let elapsed = crate::SimHandle::current().map(|handle| handle.elapsed());
    with_recorder(|recorder| {
        let now = tokio::time::Instant::now();
        let at = match (elapsed, recorder.origin) {
            (Some(elapsed), _) => {
                recorder
                    .origin
                    .get_or_insert_with(|| now.checked_sub(elapsed).unwrap_or(now));
                elapsed
            }
            (None, Some(origin)) => now.saturating_duration_since(origin),
            (None, None) => Duration::ZERO,
        };
        let track = match host {
            Some(host) => recorder
                .aliases
                .get(host)
                .map_or(host, String::as_str)
                .to_owned(),
            None => USER_TRACK.to_owned(),
        };
        recorder.timeline.instant(at, &track, "user", name, args);
    });
}

fn with_recorder<R>(f: impl FnOnce(&mut Recorder) -> R) -> Option<R> {
    RECORDER
        .try_with(|recorder| recorder.try_borrow_mut().ok()?.as_mut().map(f))
        .ok()
        .flatten()
}
