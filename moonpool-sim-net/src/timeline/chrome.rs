//! Rendering a [`Timeline`] in the Chrome trace-event format.

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
    for (tid, track) in timeline.tracks.iter().enumerate() {
        events.push(json!({
            "ph": "M", "name": "thread_name", "pid": PID, "tid": tid,
            "args": { "name": track },
        }));
        events.push(json!({
            "ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid,
            "args": { "sort_index": tid },
        }));
    }
    for event in &timeline.events {
        let tid = timeline
            .tracks
            .iter()
            .position(|track| *track == event.track)
            .unwrap_or_default();
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
