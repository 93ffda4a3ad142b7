//! Applying packets that reached their destination: what the driver does with
//! each due event.

use bytes::Bytes;
use tokio::time::Instant;
use tracing::{debug, trace};

use super::connection::{EndState, Side, send_reset};
use super::queue::Event;
use super::slab::Key;
use crate::fault::FaultKind;
use crate::trace::NetEvent;
use crate::world::{Wakes, World};

impl World {
    /// Applies every event due at `now`, in (time, send order). Returns how
    /// many were applied.
    pub(crate) fn process_due(&mut self, now: Instant, wakes: &mut Wakes) -> u64 {
        let mut applied = 0;
        while let Some(event) = self.net.queue.pop_due(now) {
            if self.net.faults.holds_possible {
                // A clog or partition may hold it back (crate::fault::hold).
                if let Some(event) = self.hold_if_blocked(event, now, wakes) {
                    self.apply(event, now, wakes);
                }
            } else {
                self.apply(event, now, wakes);
            }
            applied += 1;
        }
        applied
    }

    pub(crate) fn apply(&mut self, event: Event, now: Instant, wakes: &mut Wakes) {
        match event {
            Event::Release { conn, to } => self.release(conn, to, now, wakes),
            Event::Expire { conn, to, always } => self.expire(conn, to, always, now, wakes),
            Event::Syn(key) => self.on_syn(key, now, wakes),
            Event::SynAck(key) => self.on_syn_ack(key, now, wakes),
            Event::Refuse(key) => self.on_refuse(key, now, wakes),
            Event::SynTimeout(key) => self.on_syn_timeout(key, wakes),
            Event::Data { conn, to, data } => self.on_data(conn, to, data, now, wakes),
            Event::Fin { conn, to } => self.on_fin(conn, to, now, wakes),
            Event::Rst { conn, to } => self.on_rst(conn, to, now, wakes),
        }
    }

    fn on_data(&mut self, key: Key, to: Side, mut data: Bytes, now: Instant, wakes: &mut Wakes) {
        let World {
            net, conns, hosts, ..
        } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let len = data.len();
        let receiver = conn.end_mut(to);
        if receiver.vanished && !hosts.is_alive(receiver.host) {
            // Nobody answers: the bytes stay unacknowledged in the sender's
            // buffer until its retransmission timer gives up.
            net.start_hold_timer(receiver, key, to, now, wakes);
            return;
        }
        if net.faults.active && net.faults.config.bit_flip.enabled && !conn.stable {
            let path = conn.path(to.other());
            if !net.faults.is_stable(path.src, path.dst)
                && let Some(flipped) = net.faults.maybe_flip(&data)
            {
                data = flipped;
                net.fault(now, FaultKind::BitFlip, path.from, path.to);
            }
        }
        let (receiver, sender) = conn.pair_mut(to);
        sender.in_flight = sender.in_flight.saturating_sub(len);
        let (from, to_addr) = (sender.local, receiver.local);
        trace!(%from, to = %to_addr, len, "segment");
        net.record(
            now,
            NetEvent::Segment {
                from,
                to: to_addr,
                len: u32::try_from(len).unwrap_or(u32::MAX),
                digest: crate::trace::segment_digest(&data),
            },
        );
        // The segment left the send buffer: room for the writer.
        wakes.push(sender.write_waker.take());
        if receiver.state == EndState::Open && !receiver.reset {
            receiver.recv_bytes += len;
            receiver.recv.push_back(data);
            wakes.push(receiver.read_waker.take());
        } else if receiver.state == EndState::Closed {
            // Data for a closed socket: the kernel answers with a reset.
            send_reset(conn, key, to, net, now, wakes);
        }
    }

    fn on_fin(&mut self, key: Key, to: Side, now: Instant, wakes: &mut Wakes) {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let (receiver, sender) = conn.pair_mut(to);
        net.record(
            now,
            NetEvent::Fin {
                from: sender.local,
                to: receiver.local,
            },
        );
        debug!(from = %sender.local, to = %receiver.local, "FIN arrived");
        sender.fin_acked = true;
        if receiver.state == EndState::Open && !receiver.reset {
            receiver.fin_received = true;
            wakes.push(receiver.read_waker.take());
        }
    }

    fn on_rst(&mut self, key: Key, to: Side, now: Instant, wakes: &mut Wakes) {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let (receiver, sender) = conn.pair_mut(to);
        net.record(
            now,
            NetEvent::Reset {
                from: sender.local,
                to: receiver.local,
            },
        );
        debug!(from = %sender.local, to = %receiver.local, "RST arrived");
        if receiver.state == EndState::Open && !receiver.reset {
            let error = receiver.reset_error();
            receiver.abort(error);
            receiver.wake_all(wakes);
        }
    }

    fn on_syn_ack(&mut self, key: Key, now: Instant, wakes: &mut Wakes) {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let server = conn.end(Side::Server).local;
        let client = conn.end_mut(Side::Client);
        net.record(
            now,
            NetEvent::Established {
                client: client.local,
                server,
            },
        );
        match client.state {
            EndState::Connecting => {
                debug!(client = %client.local, %server, "connected");
                client.state = EndState::Open;
                wakes.push(client.read_waker.take());
            }
            EndState::Closed => {
                // The connect was abandoned: answer the handshake with a reset.
                send_reset(conn, key, Side::Client, net, now, wakes);
            }
            EndState::Unborn | EndState::Refused | EndState::SynTimedOut | EndState::Open => {}
        }
    }

    fn on_refuse(&mut self, key: Key, now: Instant, wakes: &mut Wakes) {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let target = conn.target;
        let client = conn.end_mut(Side::Client);
        net.record(
            now,
            NetEvent::Reset {
                from: target,
                to: client.local,
            },
        );
        match client.state {
            EndState::Connecting => {
                // The connect future takes the refusal and frees the connection.
                client.state = EndState::Refused;
                wakes.push(client.read_waker.take());
            }
            _ => self.free_if_dead(key),
        }
    }

    fn on_syn_timeout(&mut self, key: Key, wakes: &mut Wakes) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let client = conn.end_mut(Side::Client);
        if client.state == EndState::Connecting {
            debug!(client = %client.local, "connection request timed out");
            client.state = EndState::SynTimedOut;
            wakes.push(client.read_waker.take());
        } else {
            self.free_if_dead(key);
        }
    }
}
