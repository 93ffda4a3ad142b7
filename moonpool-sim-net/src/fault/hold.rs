//! Clogs and partitions at delivery: packets of a blocked path wait, in
//! order, in their receiving end until the block ends; a partition that
//! outlasts the connection timeout fails the connection at both ends.

use tokio::time::Instant;

use super::FaultKind;
use crate::net::Net;
use crate::net::connection::{EndState, Endpoint, Side};
use crate::net::queue::Event;
use crate::net::slab::Key;
use crate::world::{Wakes, World};

impl World {
    /// Returns the event if it may be applied now; otherwise holds or
    /// reschedules it (or, for a connect across a partition, turns it into
    /// a refusal or drops it).
    pub(crate) fn hold_if_blocked(
        &mut self,
        event: Event,
        now: Instant,
        wakes: &mut Wakes,
    ) -> Option<Event> {
        match event {
            Event::Data { conn, to, .. } | Event::Fin { conn, to } | Event::Rst { conn, to } => {
                self.hold_packet(conn, to, event, now, wakes)
            }
            Event::Syn(key) => self.hold_handshake(key, Side::Client, event, now, wakes),
            Event::SynAck(key) | Event::Refuse(key) => {
                self.hold_handshake(key, Side::Server, event, now, wakes)
            }
            other => Some(other),
        }
    }

    fn hold_packet(
        &mut self,
        key: Key,
        to: Side,
        event: Event,
        now: Instant,
        wakes: &mut Wakes,
    ) -> Option<Event> {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return Some(event);
        };
        let path = conn.path(to.other());
        let block = if conn.stable || net.faults.is_stable(path.src, path.dst) {
            None
        } else {
            net.faults.blocked(path.src, path.dst, now)
        };
        let receiver = conn.end_mut(to);
        if receiver.held.is_empty() {
            let Some((until, _)) = block else {
                return Some(event);
            };
            net.schedule(until, Event::Release { conn: key, to }, wakes);
            net.fault(now, FaultKind::Held, path.from, path.to);
        }
        receiver.held.push_back(event);
        if let Some((_, true)) = block {
            net.start_hold_timer(receiver, key, to, now, wakes);
        }
        None
    }

    /// Handshake packets sent by `from`'s end: a clog delays them; a
    /// partition refuses or swallows a SYN and delays the answers.
    fn hold_handshake(
        &mut self,
        key: Key,
        from: Side,
        event: Event,
        now: Instant,
        wakes: &mut Wakes,
    ) -> Option<Event> {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get(key) else {
            return Some(event);
        };
        let Some(dest) = conn.dest else {
            return Some(event);
        };
        let client = conn.end(Side::Client);
        let (src, dst) = match from {
            Side::Client => (client.host, dest),
            Side::Server => (dest, client.host),
        };
        if net.faults.is_stable(src, dst) {
            return Some(event);
        }
        let Some((until, partition)) = net.faults.blocked(src, dst, now) else {
            return Some(event);
        };
        let (local, target) = (client.local, conn.target);
        if partition && matches!(event, Event::Syn(_)) {
            let mode = net.faults.config.partition.connect;
            if net.faults.refuse(mode) {
                net.fault(now, FaultKind::ConnectRefused, local, target);
                return Some(Event::Refuse(key));
            }
            net.fault(now, FaultKind::ConnectHang, local, target);
            return None;
        }
        net.schedule(until, event, wakes);
        None
    }

    /// A block on the path to `to` may have ended: deliver what it held, in
    /// order, or wait for the block's new end.
    pub(crate) fn release(&mut self, key: Key, to: Side, now: Instant, wakes: &mut Wakes) {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let path = conn.path(to.other());
        if !conn.stable
            && !net.faults.is_stable(path.src, path.dst)
            && let Some((until, _)) = net.faults.blocked(path.src, path.dst, now)
        {
            if !conn.end(to).held.is_empty() {
                net.schedule(until, Event::Release { conn: key, to }, wakes);
            }
            return;
        }
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
            end.held.clear();
            end.held_since = None;
            if end.state == EndState::Open && !end.reset {
                end.abort();
                end.timed_out = true;
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
        let at = now + self.faults.config.connection_timeout;
        let expire = Event::Expire {
            conn: key,
            to,
            always: false,
        };
        self.schedule(at, expire, wakes);
    }
}
