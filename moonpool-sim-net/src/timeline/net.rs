//! The simulator's event trace as timeline events.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::{Map, Value};

use super::Timeline;
use crate::trace::{NetEvent, TraceRecord};

/// The track name of a host: `name (ip)`.
pub fn host_track(name: &str, ip: Ipv4Addr) -> String {
    format!("{name} ({ip})")
}

/// Adds every record of `trace`: instants for connection events, segment
/// deliveries, FIN/RST, host starts and crashes; intervals for each host
/// incarnation and each connection's life. `tracks` names hosts' tracks.
///
/// Connections of one host may overlap, and one track shows only nested
/// intervals, so they go on lanes under the client's track
/// (`<track> · connections`, `<track> · connections 2`, …).
pub fn add_net_events(
    timeline: &mut Timeline,
    trace: &[TraceRecord],
    tracks: &BTreeMap<Ipv4Addr, String>,
) {
    let track_of = |addr: IpAddr| match addr {
        IpAddr::V4(ip) => tracks.get(&ip).cloned().unwrap_or_else(|| ip.to_string()),
        IpAddr::V6(ip) => ip.to_string(),
    };
    let end = trace.last().map_or(Duration::ZERO, |record| record.at);
    // Open incarnations (host → (incarnation, start)) and connections
    // (unordered pair → (client, server, established at)).
    let mut incarnations: BTreeMap<Ipv4Addr, (u64, Duration)> = BTreeMap::new();
    let mut connections: BTreeMap<(SocketAddr, SocketAddr), (SocketAddr, SocketAddr, Duration)> =
        BTreeMap::new();
    let mut spans: Vec<ConnectionSpan> = Vec::new();
    let pair = |a: SocketAddr, b: SocketAddr| if a <= b { (a, b) } else { (b, a) };

    for record in trace {
        let at = record.at;
        let args = event_args(&record.event);
        match record.event {
            NetEvent::HostStarted { host, incarnation } => {
                timeline.instant(
                    at,
                    &track_of(host.into()),
                    "host",
                    format!("start #{incarnation}"),
                    args,
                );
                incarnations.insert(host, (incarnation, at));
            }
            NetEvent::HostCrashed { host, incarnation } => {
                let track = track_of(host.into());
                timeline.instant(at, &track, "host", format!("crash #{incarnation}"), args);
                if let Some((incarnation, start)) = incarnations.remove(&host) {
                    incarnation_span(timeline, &track, incarnation, start, at);
                }
            }
            NetEvent::Accepted { client, server } => {
                timeline.instant(
                    at,
                    &track_of(server.ip()),
                    "net",
                    format!("accept {client}"),
                    args,
                );
            }
            NetEvent::Refused { client, server } => {
                timeline.instant(
                    at,
                    &track_of(client.ip()),
                    "net",
                    format!("refused by {server}"),
                    args,
                );
            }
            NetEvent::Established { client, server } => {
                timeline.instant(
                    at,
                    &track_of(client.ip()),
                    "net",
                    format!("connected to {server}"),
                    args,
                );
                connections.insert(pair(client, server), (client, server, at));
            }
            NetEvent::Segment { from, to, len, .. } => {
                timeline.instant(
                    at,
                    &track_of(to.ip()),
                    "net",
                    format!("recv {len} B from {from}"),
                    args,
                );
            }
            NetEvent::Fin { from, to } | NetEvent::Reset { from, to } => {
                let kind = if matches!(record.event, NetEvent::Fin { .. }) {
                    "FIN"
                } else {
                    "RST"
                };
                timeline.instant(
                    at,
                    &track_of(to.ip()),
                    "net",
                    format!("{kind} from {from}"),
                    args,
                );
                if let Some((client, server, start)) = connections.remove(&pair(from, to)) {
                    spans.push((track_of(client.ip()), start, at, client, server));
                }
            }
            NetEvent::Fault { kind, from, to } => {
                // On the host it hits; world-wide faults (heal) on their own track.
                let track = if from.ip().is_unspecified() {
                    "faults".to_owned()
                } else {
                    track_of(from.ip())
                };
                let name = if to.ip().is_unspecified() {
                    format!("fault {kind}")
                } else {
                    format!("fault {kind} → {to}")
                };
                timeline.instant(at, &track, "fault", name, args);
            }
        }
    }
    for (host, (incarnation, start)) in incarnations {
        incarnation_span(timeline, &track_of(host.into()), incarnation, start, end);
    }
    for (client, server, start) in connections.into_values() {
        spans.push((track_of(client.ip()), start, end, client, server));
    }
    connection_lanes(timeline, spans);
}

/// A connection's life: client's track, start, end, client, server.
type ConnectionSpan = (String, Duration, Duration, SocketAddr, SocketAddr);

/// Puts each connection on the first lane of its track that is free at its
/// start.
fn connection_lanes(timeline: &mut Timeline, mut spans: Vec<ConnectionSpan>) {
    spans.sort_by(|a, b| (&a.0, a.1, a.3).cmp(&(&b.0, b.1, b.3)));
    // Track → when each of its lanes is free again.
    let mut lanes: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for (track, start, end, client, server) in spans {
        let busy = lanes.entry(track.clone()).or_default();
        let lane = match busy.iter().position(|free_at| *free_at <= start) {
            Some(lane) => lane,
            None => {
                busy.push(Duration::ZERO);
                busy.len() - 1
            }
        };
        busy[lane] = end;
        let lane_track = match lane {
            0 => format!("{track} · connections"),
            n => format!("{track} · connections {}", n + 1),
        };
        timeline.declare_subtrack(&track, &lane_track);
        connection_span(timeline, &lane_track, client, server, start, end);
    }
}

fn incarnation_span(
    timeline: &mut Timeline,
    track: &str,
    incarnation: u64,
    start: Duration,
    end: Duration,
) {
    let mut args = Map::new();
    args.insert("incarnation".into(), Value::from(incarnation));
    timeline.interval(
        start,
        end.saturating_sub(start),
        track,
        "host",
        format!("incarnation #{incarnation}"),
        args,
    );
}

fn connection_span(
    timeline: &mut Timeline,
    track: &str,
    client: SocketAddr,
    server: SocketAddr,
    start: Duration,
    end: Duration,
) {
    let mut args = Map::new();
    args.insert("client".into(), Value::from(client.to_string()));
    args.insert("server".into(), Value::from(server.to_string()));
    timeline.interval(
        start,
        end.saturating_sub(start),
        track,
        "conn",
        format!("{client} -> {server}"),
        args,
    );
}

/// The event's fields, for the viewer's details pane.
fn event_args(event: &NetEvent) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert("event".into(), Value::from(event.to_string()));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_incarnation_become_intervals() {
        let client: SocketAddr = "10.0.0.2:49152".parse().unwrap();
        let server: SocketAddr = "10.0.0.1:7000".parse().unwrap();
        let ip = Ipv4Addr::new(10, 0, 0, 1);
        let ms = Duration::from_millis;
        let trace = [
            TraceRecord {
                at: ms(0),
                event: NetEvent::HostStarted {
                    host: ip,
                    incarnation: 0,
                },
            },
            TraceRecord {
                at: ms(1),
                event: NetEvent::Accepted { client, server },
            },
            TraceRecord {
                at: ms(2),
                event: NetEvent::Established { client, server },
            },
            TraceRecord {
                at: ms(3),
                event: NetEvent::Segment {
                    from: client,
                    to: server,
                    len: 8,
                    digest: 0,
                },
            },
            TraceRecord {
                at: ms(5),
                event: NetEvent::Fin {
                    from: server,
                    to: client,
                },
            },
            TraceRecord {
                at: ms(9),
                event: NetEvent::HostCrashed {
                    host: ip,
                    incarnation: 0,
                },
            },
        ];
        let tracks = BTreeMap::from([(ip, host_track("server", ip))]);
        let mut timeline = Timeline::new("t");
        add_net_events(&mut timeline, &trace, &tracks);
        let intervals: Vec<_> = timeline
            .events()
            .iter()
            .filter_map(|e| {
                e.duration
                    .map(|d| (e.track.as_str(), e.name.as_str(), e.at, d))
            })
            .collect();
        assert_eq!(
            intervals,
            vec![
                ("server (10.0.0.1)", "incarnation #0", ms(0), ms(9)),
                (
                    "10.0.0.2 · connections",
                    "10.0.0.2:49152 -> 10.0.0.1:7000",
                    ms(2),
                    ms(3)
                ),
            ]
        );
        let instants = timeline
            .events()
            .iter()
            .filter(|e| e.duration.is_none())
            .count();
        assert_eq!(instants, trace.len());
    }

    #[test]
    fn overlapping_connections_of_a_host_get_separate_lanes() {
        let server: SocketAddr = "10.0.0.1:7000".parse().unwrap();
        let a: SocketAddr = "10.0.0.2:49152".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:49153".parse().unwrap();
        let c: SocketAddr = "10.0.0.2:49154".parse().unwrap();
        let ms = Duration::from_millis;
        let at = |t, event| TraceRecord { at: ms(t), event };
        let trace = [
            at(1, NetEvent::Established { client: a, server }),
            at(2, NetEvent::Established { client: b, server }),
            at(
                3,
                NetEvent::Fin {
                    from: a,
                    to: server,
                },
            ),
            at(4, NetEvent::Established { client: c, server }),
            at(
                5,
                NetEvent::Reset {
                    from: server,
                    to: b,
                },
            ),
        ];
        let mut timeline = Timeline::new("t");
        add_net_events(&mut timeline, &trace, &BTreeMap::new());
        let lanes: Vec<(&str, Duration)> = timeline
            .events()
            .iter()
            .filter(|e| e.duration.is_some())
            .map(|e| (e.track.as_str(), e.at))
            .collect();
        assert_eq!(
            lanes,
            vec![
                ("10.0.0.2 · connections", ms(1)),
                ("10.0.0.2 · connections 2", ms(2)),
                ("10.0.0.2 · connections", ms(4)),
            ]
        );
        assert_eq!(
            timeline.tracks(),
            vec![
                "10.0.0.2",
                "10.0.0.2 · connections",
                "10.0.0.2 · connections 2",
                "10.0.0.1"
            ]
        );
    }
}
