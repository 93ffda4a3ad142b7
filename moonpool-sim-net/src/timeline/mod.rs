//! Timelines: one seed's events as Chrome trace-event JSON.
//!
//! A [`Timeline`] is a list of events on named tracks (one per host), in
//! simulated time. [`Timeline::to_chrome_json`] renders it in the
//! `traceEvents` format that Perfetto (<https://ui.perfetto.dev>, "Open
//! trace file") and `chrome://tracing` open: `"M"` metadata events name the
//! process and one thread per track, `"i"` events mark instants (a
//! connection accepted, a FIN, a host crash, a user `tracing` event), `"X"`
//! events span an interval (a segment from send to delivery); `ts` and
//! `dur` are microseconds of simulated time since the iteration started.
//!
//! The runner fills a timeline for one seed when `MOONPOOL_TRACE=<path>` is
//! set together with `MOONPOOL_SEED=<n>`. User `tracing` events reach it
//! through [`TimelineLayer`], a `tracing-subscriber` layer: add it to your
//! subscriber (or let the runner install one for the traced iteration when
//! no global subscriber is set). An event lands on the track of its `host`
//! field, or of the nearest enclosing span with a `host` field, else on the
//! `user` track.

mod chrome;
mod layer;
mod net;
pub(crate) mod recorder;

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

pub use layer::TimelineLayer;
pub use net::{add_net_events, host_track};

/// Track that user events without a host land on.
pub const USER_TRACK: &str = "user";

/// One event on a track.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    /// Simulated time since the iteration started.
    pub at: Duration,
    /// `Some` for an interval (`"X"`), `None` for an instant (`"i"`).
    pub duration: Option<Duration>,
    /// The track (host) it belongs to.
    pub track: String,
    /// Category, shown and filterable in the viewer (`net`, `host`, `user`).
    pub category: String,
    /// Short label.
    pub name: String,
    /// Details shown when the event is selected.
    pub args: Map<String, Value>,
}

/// Events on named tracks in simulated time, renderable as a Chrome trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    title: String,
    /// Tracks in declaration order; the index is the `tid`.
    tracks: Vec<Track>,
    events: Vec<TimelineEvent>,
}

/// A track and where it is displayed: groups in declaration order, a
/// group's sub-tracks right under its main track.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Track {
    name: String,
    group: usize,
    sub: usize,
}

impl Timeline {
    /// An empty timeline; `title` names the process in the viewer.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// Declares a track so tracks appear in declaration order; tracks are
    /// also declared implicitly by their first event.
    pub fn declare_track(&mut self, track: &str) {
        if !self.tracks.iter().any(|known| known.name == track) {
            let group = self.tracks.iter().map(|t| t.group + 1).max().unwrap_or(0);
            self.tracks.push(Track {
                name: track.to_owned(),
                group,
                sub: 0,
            });
        }
    }

    /// Declares `track` to be displayed under `parent` (declared if new),
    /// after `parent`'s earlier sub-tracks: for intervals that overlap the
    /// parent's own, which one track can not show.
    pub fn declare_subtrack(&mut self, parent: &str, track: &str) {
        self.declare_track(parent);
        if self.tracks.iter().any(|known| known.name == track) {
            return;
        }
        let group = self
            .tracks
            .iter()
            .find(|known| known.name == parent)
            .map_or(0, |parent| parent.group);
        let sub = self
            .tracks
            .iter()
            .filter(|t| t.group == group)
            .map(|t| t.sub + 1)
            .max()
            .unwrap_or(1);
        self.tracks.push(Track {
            name: track.to_owned(),
            group,
            sub,
        });
    }

    /// Adds an event (declaring its track if new).
    pub fn push(&mut self, event: TimelineEvent) {
        self.declare_track(&event.track);
        self.events.push(event);
    }

    /// Adds an instant event.
    pub fn instant(
        &mut self,
        at: Duration,
        track: &str,
        category: &str,
        name: impl Into<String>,
        args: Map<String, Value>,
    ) {
        self.push(TimelineEvent {
            at,
            duration: None,
            track: track.to_owned(),
            category: category.to_owned(),
            name: name.into(),
            args,
        });
    }

    /// Adds an interval event.
    pub fn interval(
        &mut self,
        at: Duration,
        duration: Duration,
        track: &str,
        category: &str,
        name: impl Into<String>,
        args: Map<String, Value>,
    ) {
        self.push(TimelineEvent {
            at,
            duration: Some(duration),
            track: track.to_owned(),
            category: category.to_owned(),
            name: name.into(),
            args,
        });
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Track names in display order.
    pub fn tracks(&self) -> Vec<&str> {
        let mut tracks: Vec<&Track> = self.tracks.iter().collect();
        tracks.sort_by_key(|track| (track.group, track.sub));
        tracks
            .into_iter()
            .map(|track| track.name.as_str())
            .collect()
    }

    /// The events, in the order they were added.
    pub fn events(&self) -> &[TimelineEvent] {
        &self.events
    }

    /// The timeline as a Chrome trace-event JSON object.
    pub fn to_chrome_json(&self) -> Value {
        chrome::render(self)
    }

    /// Writes [`to_chrome_json`](Self::to_chrome_json) to `path`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_chrome_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string(&self.to_chrome_json()).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}
