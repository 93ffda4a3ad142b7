//! The invariants of the RPC workload, checked across every host's
//! published records once the iteration is quiet.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use moonpool_sim_net::invariants::{Invariant, PublishedState};
use moonpool_tower::peer::Delivery;

use super::{CallRecord, ClientLog, Method, Outcome, ServerLog};

/// Timer granularity of the paused clock: a timeout fires at the first
/// millisecond tick at or after its deadline.
const TICK: Duration = Duration::from_millis(1);

/// What a scenario promises beyond the universal invariants.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expectations {
    /// Servers stay up (no crash): every reliable call to `echo` is
    /// answered.
    pub servers_stay_up: bool,
}

/// Every client's calls.
fn calls(state: &PublishedState) -> Vec<(&ClientLog, &CallRecord)> {
    state
        .values::<ClientLog>(ClientLog::KEY)
        .flat_map(|(_, log)| log.calls.values().map(move |call| (log, call)))
        .collect()
}

/// Every server incarnation's log, merged per server address.
fn servers(state: &PublishedState) -> BTreeMap<IpAddr, ServerLog> {
    let mut merged: BTreeMap<IpAddr, ServerLog> = BTreeMap::new();
    for (ip, host) in state.hosts() {
        for key in host.keys().filter(|key| key.starts_with(ServerLog::PREFIX)) {
            if let Some(log) = host.get::<ServerLog>(key) {
                let entry = merged.entry(ip).or_default();
                entry.received.extend(&log.received);
                entry.dropped.extend(&log.dropped);
            }
        }
    }
    merged
}

fn check(
    name: &str,
    f: impl Fn(&PublishedState) -> Result<(), String> + Send + Sync + 'static,
) -> Invariant {
    Invariant::new(name, f)
}

/// The suite's invariants.
pub fn invariants(expect: Expectations) -> Vec<Invariant> {
    let mut all = vec![
        check("every call resolves exactly once", |state| {
            let mut clients = 0;
            for (_, log) in state.values::<ClientLog>(ClientLog::KEY) {
                clients += 1;
                if log.calls.len() as u64 != log.planned {
                    return Err(format!("{} of {} calls made", log.calls.len(), log.planned));
                }
                if let Some(call) = log.calls.values().find(|c| c.resolutions != 1) {
                    return Err(format!(
                        "call resolved {} times: {call:?}",
                        call.resolutions
                    ));
                }
            }
            if clients == 0 {
                return Err("no client published its calls".into());
            }
            Ok(())
        }),
        check("no reply without a request", |state| {
            let servers = servers(state);
            for (_, call) in calls(state) {
                if let Outcome::Answered { id } = call.outcome {
                    let received = servers
                        .get(&IpAddr::V4(call.server))
                        .is_some_and(|log| log.received.contains(&call.id));
                    if id != call.id || !received {
                        return Err(format!(
                            "answer {id} for a request the server never saw: {call:?}"
                        ));
                    }
                }
            }
            Ok(())
        }),
        check(
            "a BrokenPromise only when the server dropped the promise",
            |state| {
                let servers = servers(state);
                for (_, call) in calls(state) {
                    let dropped = servers
                        .get(&IpAddr::V4(call.server))
                        .is_some_and(|log| log.dropped.contains(&call.id));
                    if call.outcome == Outcome::BrokenPromise && !dropped {
                        return Err(format!(
                            "BrokenPromise for a promise nobody dropped: {call:?}"
                        ));
                    }
                }
                Ok(())
            },
        ),
        check("EndpointNotFound only for unregistered tokens", |state| {
            for (_, call) in calls(state) {
                if call.outcome == Outcome::EndpointNotFound && call.method != Method::Missing {
                    return Err(format!(
                        "EndpointNotFound from a registered endpoint: {call:?}"
                    ));
                }
                if call.method == Method::Missing
                    && matches!(call.outcome, Outcome::Answered { .. })
                {
                    return Err(format!("an unregistered endpoint answered: {call:?}"));
                }
            }
            Ok(())
        }),
        check("no call outlives its timeout", |state| {
            for (_, call) in calls(state) {
                if call.ended.saturating_sub(call.started) > call.timeout + TICK {
                    return Err(format!("call outlived its timeout: {call:?}"));
                }
            }
            Ok(())
        }),
        check("no unexpected outcome", |state| {
            let unexpected: BTreeSet<String> = calls(state)
                .into_iter()
                .filter_map(|(_, call)| match &call.outcome {
                    Outcome::Other(what) => Some(what.clone()),
                    _ => None,
                })
                .collect();
            if unexpected.is_empty() {
                Ok(())
            } else {
                Err(format!("unexpected outcomes: {unexpected:?}"))
            }
        }),
    ];
    if expect.servers_stay_up {
        all.push(check(
            "reliable requests to a server that stays up are all answered",
            |state| {
                for (_, call) in calls(state) {
                    let reliable_echo =
                        call.method == Method::Echo && call.delivery == Delivery::Reliable;
                    if reliable_echo && call.outcome != (Outcome::Answered { id: call.id }) {
                        return Err(format!("a reliable call went unanswered: {call:?}"));
                    }
                }
                Ok(())
            },
        ));
    }
    all
}
