//! Clogs and partitions at delivery: packets of a blocked path wait, in
//! order, in their receiving end until the block ends; a partition that
//! outlasts the connection timeout fails the connection at both ends.
//!
//! Handshake packets wait in the same queues as the bytes that follow them:
//! the SYN in the server end, the SYN-ACK or refusal in the client end. So
//! nothing the server sends can reach a client end still connecting, however
//! the blocks overlap or end (a heal releases everything, in order).

use tokio::time::Instant;

use super::FaultKind;
use crate::host::HostId;
use crate::instant::later;
use crate::net::Net;
use crate::net::connection::{Connection, EndState, Endpoint, Side};
use crate::net::errors::SocketError;
use crate::net::queue::Event;
use crate::net::slab::Key;
use crate::world::{Wakes, World};

/// The hosts a packet for the `to` end travels between, or `None` if no
/// block can apply (the client asked for an address no host has). A server
/// end not yet born stands for the host the client's address resolved to.
fn hosts_toward(conn: &Connection, to: Side) -> Option<(HostId, HostId)> {
    let server = conn.end(Side::Server);
    let server_host = if server.state == EndState::Unborn {
        conn.dest?
    } else {
        server.host
    };
    let client_host = conn.end(Side::Client).host;
    Some(match to {
        Side::Server => (client_host, server_host),
        Side::Client => (server_host, client_host),
    })
}

/// The end a packet is for.
fn destination(event: &Event) -> Option<(Key, Side)> {
    match *event {
        Event::Data { conn, to, .. } | Event::Fin { conn, to } | Event::Rst { conn, to } => {
            Some((conn, to))
        }
        Event::Syn(key) => Some((key, Side::Server)),
        Event::SynAck(key) | Event::Refuse(key) => Some((key, Side::Client)),
        Event::Release { .. } | Event::Expire { .. } | Event::SynTimeout(_) => None,
    }
}

impl World {
    /// Returns the event if it may be applied now; otherwise holds it (or,
    /// for a connect across a partition, turns it into a refusal or drops it).
    pub(crate) fn hold_if_blocked(
        &mut self,
        event: Event,
        now: Instant,
        wakes: &mut Wakes,
    ) -> Option<Event> {
        match destination(&event) {
            Some((key, to)) => self.hold_packet(key, to, event, now, wakes),
            None => Some(event),
        }
    }

    /// The block on the path toward `key`'s `to` end now, if any: its end
    /// and whether it is a partition. Stable connections and hosts are never
    /// blocked.
    fn block_toward(&mut self, key: Key, to: Side, now: Instant) -> Option<(Instant, bool)> {
        let conn = self.conns.get(key)?;
        let (src, dst) = hosts_toward(conn, to)?;
        if conn.stable || self.net.faults.is_stable(src, dst) {
            return None;
        }
        self.net.faults.blocked(src, dst, now)
    }

    fn hold_packet(
        &mut self,
        key: Key,
        to: Side,
        event: Event,
        now: Instant,
        wakes: &mut Wakes,
    ) -> Option<Event> {
        let block = self.block_toward(key, to, now);
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return Some(event);
        };
        let handshake = event.is_handshake();
        let path = conn.path(to.other());
        let receiver = conn.end_mut(to);
        if receiver.held.is_empty() {
            let Some((until, partition)) = block else {
                return Some(event);
            };
            if partition && matches!(event, Event::Syn(_)) {
                return self.syn_across_partition(key, now);
            }
            net.schedule(until, Event::Release { conn: key, to }, wakes);
            // A delayed handshake is part of the block's cost, not a held
            // packet of its own (it never was).
            if !handshake {
                net.fault(now, FaultKind::Held, path.from, path.to);
            }
        }
        receiver.held.push_back(event);
        if !handshake && let Some((_, true)) = block {
            net.start_hold_timer(receiver, key, to, now, wakes);
        }
        None
    }

    /// A connection request meets a partition: refused, or lost (the
    /// connect hangs), as `partition.connect` says.
    fn syn_across_partition(&mut self, key: Key, now: Instant) -> Option<Event> {
        let conn = self.conns.get(key)?;
        let (local, target) = (conn.end(Side::Client).local, conn.target);
        let net = &mut self.net;
        let mode = net.faults.config.partition.connect;
        if net.faults.refuse(mode) {
            net.fault(now, FaultKind::ConnectRefused, local, target);
            return Some(Event::Refuse(key));
        }
        net.fault(now, FaultKind::ConnectHang, local, target);
        None
    }

    /// A block on the path to `to` may have ended: deliver what it held, in
    /// order, or wait for the block's new end.
    pub(crate) fn release(&mut self, key: Key, to: Side, now: Instant, wakes: &mut Wakes) {
        if let Some((until, partition)) = self.block_toward(key, to, now) {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            let held = &mut conn.end_mut(to).held;
            if partition && matches!(held.front(), Some(Event::Syn(_))) {
                // A SYN a clog delayed now meets a partition, as if it
                // arrived only now.
                held.clear();
                if let Some(refusal) = self.syn_across_partition(key, now) {
                    self.apply(refusal, now, wakes);
                }
            } else if !held.is_empty() {
                self.net
                    .schedule(until, Event::Release { conn: key, to }, wakes);
            }
            return;
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let receiver = conn.end_mut(to);
        let held = std::mem::take(&mut receiver.held);
        if !receiver.vanished {
            receiver.held_since = None;
        }
        for event in held {
            self.apply(event, now, wakes);
        }
    }

    /// The retransmission timer of the `to` end's incoming data fired.
    pub(crate) fn expire(
        &mut self,
        key: Key,
        to: Side,
        always: bool,
        now: Instant,
        wakes: &mut Wakes,
    ) {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let timeout = net.faults.config.connection_timeout;
        let due = always
            || conn
                .end(to)
                .held_since
                .is_some_and(|since| now.saturating_duration_since(since) >= timeout);
        if !due {
            return;
        }
        let path = conn.path(to.other());
        let mut failed = false;
        for side in [Side::Client, Side::Server] {
            let end = conn.end_mut(side);
            end.forget_held();
            end.held_since = None;
            if end.state == EndState::Open && !end.reset {
                end.abort(SocketError::TimedOut);
                end.wake_all(wakes);
                failed = true;
            }
        }
        if failed {
            net.fault(now, FaultKind::ConnectionTimeout, path.from, path.to);
        }
    }

    /// Delivers everything held on every connection (after a heal).
    pub(crate) fn release_all(&mut self, wakes: &mut Wakes) {
        let now = Instant::now();
        let held: Vec<(Key, Side)> = self
            .conns
            .iter()
            .flat_map(|(key, conn)| {
                [Side::Client, Side::Server]
                    .into_iter()
                    .filter(|&side| !conn.end(side).held.is_empty())
                    .map(move |side| (key, side))
            })
            .collect();
        for (conn, to) in held {
            self.net.schedule(now, Event::Release { conn, to }, wakes);
        }
    }
}

impl Net {
    /// Starts the connection timeout of `end`, whose incoming bytes are held
    /// (a partition, or a peer that vanished), unless it is already running:
    /// if the hold outlasts `connection_timeout`, the connection fails.
    pub(crate) fn start_hold_timer(
        &mut self,
        end: &mut Endpoint,
        key: Key,
        to: Side,
        now: Instant,
        wakes: &mut Wakes,
    ) {
        if end.held_since.is_some() {
            return;
        }
        end.held_since = Some(now);
        let at = later(now, self.faults.config.connection_timeout);
        let expire = Event::Expire {
            conn: key,
            to,
            always: false,
        };
        self.schedule(at, expire, wakes);
    }
}
