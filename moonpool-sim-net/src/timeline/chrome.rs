//! Rendering a [`Timeline`] in the Chrome trace-event format.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Timeline;

/// The one process every track belongs to.
const PID: u64 = 1;

/// Microseconds, with nanosecond precision kept as a fraction.
fn micros(duration: Duration) -> f64 {
    duration.as_nanos() as f64 / 1_000.0
}

pub(super) fn render(timeline: &Timeline) -> Value {
    let mut events = Vec::with_capacity(timeline.tracks.len() * 2 + 1 + timeline.events.len());
    events.push(json!({
        "ph": "M", "name": "process_name", "pid": PID, "tid": 0,
        "args": { "name": timeline.title },
    }));
    let mut display: Vec<(usize, usize, usize)> = timeline
        .tracks
        .iter()
        .enumerate()
        .map(|(tid, track)| (track.group, track.sub, tid))
        .collect();
    display.sort_unstable();
    for (rank, (_, _, tid)) in display.into_iter().enumerate() {
        let name = &timeline.tracks[tid].name;
        events.push(json!({
            "ph": "M", "name": "thread_name", "pid": PID, "tid": tid,
            "args": { "name": name },
        }));
        events.push(json!({
            "ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid,
            "args": { "sort_index": rank },
        }));
    }
    let tids: BTreeMap<&str, usize> = timeline
        .tracks
        .iter()
        .enumerate()
        .map(|(tid, track)| (track.name.as_str(), tid))
        .collect();
    for event in &timeline.events {
        let tid = tids.get(event.track.as_str()).copied().unwrap_or_default();
        let mut object = Map::new();
        object.insert("name".into(), Value::from(event.name.as_str()));
        object.insert("cat".into(), Value::from(event.category.as_str()));
        object.insert("ts".into(), Value::from(micros(event.at)));
        object.insert("pid".into(), Value::from(PID));
        object.insert("tid".into(), Value::from(tid));
        match event.duration {
            Some(duration) => {
                object.insert("ph".into(), Value::from("X"));
                object.insert("dur".into(), Value::from(micros(duration)));
            }
            None => {
                object.insert("ph".into(), Value::from("i"));
                // Thread-scoped: the mark sits on its track.
                object.insert("s".into(), Value::from("t"));
            }
        }
        object.insert("args".into(), Value::Object(event.args.clone()));
        events.push(Value::Object(object));
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtracks_sort_right_under_their_parent() {
        let mut timeline = Timeline::new("t");
        timeline.declare_track("a");
        timeline.declare_track("b");
        timeline.declare_subtrack("a", "a conn 1");
        timeline.declare_subtrack("a", "a conn 2");
        assert_eq!(timeline.tracks(), vec!["a", "a conn 1", "a conn 2", "b"]);
        let json = timeline.to_chrome_json();
        let sort_of = |name: &str| {
            let events = json["traceEvents"].as_array().unwrap();
            let tid = events
                .iter()
                .find(|e| e["name"] == "thread_name" && e["args"]["name"] == name)
                .unwrap()["tid"]
                .clone();
            events
                .iter()
                .find(|e| e["name"] == "thread_sort_index" && e["tid"] == tid)
                .unwrap()["args"]["sort_index"]
                .as_u64()
                .unwrap()
        };
        assert_eq!(
            [
                sort_of("a"),
                sort_of("a conn 1"),
                sort_of("a conn 2"),
                sort_of("b")
            ],
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn renders_metadata_instants_and_intervals() {
        let mut timeline = Timeline::new("seed 1");
        timeline.declare_track("10.0.0.1");
        timeline.instant(
            Duration::from_micros(1500),
            "10.0.0.2",
            "net",
            "FIN",
            Map::new(),
        );
        timeline.interval(
            Duration::from_nanos(500),
            Duration::from_millis(1),
            "10.0.0.1",
            "net",
            "segment",
            Map::new(),
        );
        let json = timeline.to_chrome_json();
        let events = json["traceEvents"].as_array().unwrap();
        assert_eq!(events[0]["args"]["name"], "seed 1");
        assert_eq!(events[1]["args"]["name"], "10.0.0.1");
        assert_eq!(events[3]["args"]["name"], "10.0.0.2");
        assert_eq!(events[4]["args"]["sort_index"], 1);
        let fin = &events[5];
        assert_eq!(
            (fin["ph"].as_str(), fin["ts"].as_f64(), fin["tid"].as_u64()),
            (Some("i"), Some(1500.0), Some(1))
        );
        let segment = &events[6];
        assert_eq!(
            (
                segment["ph"].as_str(),
                segment["ts"].as_f64(),
                segment["dur"].as_f64()
            ),
            (Some("X"), Some(0.5), Some(1000.0))
        );
        assert_eq!(segment["tid"], 0);
    }
}
