//! The peer delivery workload: a client node sends numbered reliable and
//! unreliable packets to a server node, which checks every delivery as it
//! happens and acknowledges reliable ones.
//!
//! The server checks, with `always!`, on every packet:
//! - reliable packets arrive on each connection in send order with no gap
//!   (`n` follows the connection's previous reliable packet);
//! - a new connection resumes at or before the first reliable packet not yet
//!   delivered (so nothing is skipped across a reconnect) — hence a
//!   reliable packet is delivered twice only on two different connections;
//! - an unreliable packet is never delivered twice, and arrives in send
//!   order on its connection.
//!
//! The client sends, acknowledges (cancels) what the server acknowledged,
//! waits until nothing is left outstanding, and the
//! "every reliable packet delivered" invariant compares what the client sent
//! with what the server received. Paths are recorded with `sometimes!`.

#![allow(dead_code)] // Each test target uses a part of the support modules.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use moonpool_codec::{NetworkAddress, Packet, Uid, WireError};
use moonpool_sim_net::invariants::{Invariant, publish};
use moonpool_sim_net::{BoxError, HostHandle, SimTcpListener, always, sometimes};
use moonpool_tower::executor::BoxFuture;
use moonpool_tower::peer::{ConnectionError, Outgoing, Peer, PeerState};
use moonpool_tower::transport::Transport;
use tower::Service;

use super::faulty_io::FaultMix;

/// The per-iteration delivery log (see `iteration_slot.rs`).
pub(crate) type IterationSlot = super::iteration_slot::IterationSlot<Deliveries>;

pub(crate) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub(crate) const PORT: u16 = 4500;
/// `token.first` of the workload's packets; `token.second` is the number.
pub(crate) const RELIABLE: u64 = 1;
pub(crate) const UNRELIABLE: u64 = 2;
pub(crate) const ACK: u64 = 3;

/// The `sometimes!` paths every peer scenario must take across its seeds.
pub(crate) const PEER_PATHS: [&str; 4] = [
    "peer reconnected",
    "peer checksum failure",
    "peer monitor failure",
    "peer queue full backpressure",
];

pub(crate) fn server_address() -> NetworkAddress {
    NetworkAddress::new(SERVER_IP.into(), PORT)
}

/// Runs a simulated host's tasks through the host's own spawner, so a crash
/// takes them down.
pub(crate) fn host_executor(
    host: HostHandle,
) -> impl Fn(BoxFuture) + Clone + Send + Sync + 'static {
    move |task: BoxFuture| {
        drop(host.spawn(task));
    }
}

/// One scenario's knobs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scenario {
    /// Reliable packets sent (and as many unreliable ones).
    pub(crate) packets: u64,
    /// Server crashes (and restarts) the client triggers; 0 keeps it up.
    pub(crate) crashes: u32,
    /// Connection faults of the client's connector.
    pub(crate) faults: FaultMix,
    /// The client peer's queue bound, small so that backpressure shows.
    pub(crate) queue_capacity: usize,
    /// With the simulator's random faults: how long they last. Then both
    /// hosts are marked stable and every partition and clog healed
    /// (FoundationDB's check phase), and everything sent must be
    /// acknowledged within [`Scenario::settle`].
    pub(crate) chaos_for: Option<Duration>,
    /// How long, after the last send (and the chaos phase), every reliable
    /// packet may take to be acknowledged.
    pub(crate) settle: Duration,
}

/// Per connection: the last reliable and unreliable number it delivered.
#[derive(Default)]
struct ConnectionLog {
    peer: Option<Peer>,
    last_reliable: Option<u64>,
    last_unreliable: Option<u64>,
}

/// What the server saw, over every incarnation of one iteration.
#[derive(Default)]
pub(crate) struct Deliveries {
    connections: Vec<ConnectionLog>,
    /// Reliable number → times delivered.
    reliable: BTreeMap<u64, u32>,
    unreliable: BTreeSet<u64>,
}

impl Deliveries {
    /// The connection `from` is, numbered in order of first packet.
    fn connection(&mut self, from: &Peer) -> (usize, bool) {
        let known = self
            .connections
            .iter()
            .position(|c| c.peer.as_ref().is_some_and(|p| p.same_peer(from)));
        match known {
            Some(index) => (index, false),
            None => {
                self.connections.push(ConnectionLog {
                    peer: Some(from.clone()),
                    ..ConnectionLog::default()
                });
                (self.connections.len() - 1, true)
            }
        }
    }

    /// The first reliable number not delivered yet.
    fn first_missing(&self) -> u64 {
        (0..)
            .zip(self.reliable.keys())
            .find(|(expected, n)| expected != *n)
            .map_or(self.reliable.len() as u64, |(expected, _)| expected)
    }

    /// Checks and records one packet; returns whether to acknowledge it.
    fn record(&mut self, connection: usize, kind: u64, n: u64) -> bool {
        match kind {
            RELIABLE => {
                let first_missing = self.first_missing();
                let log = &mut self.connections[connection];
                match log.last_reliable {
                    Some(last) => always!(
                        n == last + 1,
                        "reliable packets arrive in send order without gaps on a connection",
                        "connection {connection}: reliable {n} after {last}"
                    ),
                    None => always!(
                        n <= first_missing,
                        "a new connection resumes at or before the first undelivered reliable packet",
                        "connection {connection} starts at {n}, {first_missing} never arrived"
                    ),
                }
                log.last_reliable = Some(n);
                let times = self.reliable.entry(n).or_default();
                *times += 1;
                sometimes!(
                    *times > 1,
                    "reliable packet delivered again on a new connection"
                );
                publish(SERVER_IP, "reliable_delivered", self.first_missing());
                true
            }
            UNRELIABLE => {
                always!(
                    self.unreliable.insert(n),
                    "an unreliable packet is never delivered twice",
                    "unreliable {n} delivered again on connection {connection}"
                );
                let log = &mut self.connections[connection];
                always!(
                    log.last_unreliable.is_none_or(|last| n > last),
                    "unreliable packets arrive in send order on a connection",
                    "connection {connection}: unreliable {n} after {:?}",
                    log.last_unreliable
                );
                log.last_unreliable = Some(n);
                false
            }
            other => {
                always!(false, "only workload packets arrive", "kind {other}");
                false
            }
        }
    }

    /// Connections the server saw.
    pub(crate) fn connections(&self) -> usize {
        self.connections.len()
    }

    /// The peers of those connections (to read their metrics).
    pub(crate) fn peers(&self) -> Vec<Peer> {
        self.connections
            .iter()
            .filter_map(|c| c.peer.clone())
            .collect()
    }
}

/// The server node: listens, checks every delivery, acknowledges reliable
/// packets (unreliably, through the connection they came on).
pub(crate) async fn server(log: Arc<Mutex<Deliveries>>) -> Result<(), BoxError> {
    let host = HostHandle::current().ok_or("not in a host")?;
    let listener = SimTcpListener::bind(("0.0.0.0", PORT)).await?;
    let spawner = host.clone();
    let handler = move |packet: Packet, from: &Peer| {
        let (kind, n) = (packet.token.first, packet.token.second);
        let (new, ack) = {
            let mut log = log.lock().unwrap();
            let (connection, new) = log.connection(from);
            (new, log.record(connection, kind, n))
        };
        if new {
            drop(spawner.spawn(watch_failures(from.clone())));
        }
        if ack {
            // The handler must not block: an ack that finds the queue full
            // is skipped; a later one covers it.
            let mut reply = from.clone();
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(Ok(())) = reply.poll_ready(&mut cx) {
                // `call` queues at once; its future only carries the receipt.
                drop(reply.call(Outgoing::unreliable(Packet::new(Uid::new(ACK, n), &[][..]))));
            }
        }
    };
    let _transport = Transport::builder(host.connector())
        .rng(host.rng())
        .listen(server_address(), listener.into_stream())
        .executor(host_executor(host.clone()))
        .inbound(handler)
        .build()?;
    moonpool_sim_net::assertions::shutdown_signal()
        .cancelled()
        .await;
    Ok(())
}

/// Records the paths a peer's connection failures take.
pub(crate) async fn watch_failures(peer: Peer) {
    let mut events = peer.connection_events();
    let mut seen = events.current();
    while let Ok(now) = events.changed().await {
        if now.connections > seen.connections {
            sometimes!(now.connections > 1, "peer reconnected");
        }
        if now.failures > seen.failures
            && let Some(error) = peer.last_error()
        {
            sometimes!(
                matches!(
                    *error,
                    ConnectionError::Decode(WireError::ChecksumMismatch { .. })
                ),
                "peer checksum failure"
            );
            // The monitor fails a connection for silence (a half-open one)
            // or for a stream that stopped forming frames (a corrupted
            // length field): either is the monitor's path.
            sometimes!(
                matches!(
                    *error,
                    ConnectionError::PingTimeout { .. } | ConnectionError::FrameStalled { .. }
                ),
                "peer monitor failure"
            );
            // Registered only when seen: required only where declared.
            if matches!(*error, ConnectionError::FrameStalled { .. }) {
                sometimes!(true, "peer frame stall");
            }
        }
        if now.state == PeerState::Closed {
            break;
        }
        seen = now;
    }
}

/// Every reliable packet the client sent reached the server at least once.
pub(crate) fn every_reliable_packet_delivered() -> Invariant {
    Invariant::new("every reliable packet delivered", |state| {
        let sent = state.get::<u64>(CLIENT_IP, "reliable_sent");
        let delivered = state.get::<u64>(SERVER_IP, "reliable_delivered");
        match (sent, delivered) {
            (Some(sent), Some(delivered)) if delivered >= sent => Ok(()),
            other => Err(format!("sent, delivered without a gap: {other:?}")),
        }
    })
}
