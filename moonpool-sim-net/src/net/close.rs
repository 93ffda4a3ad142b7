//! Closing one end: the socket dropped (FIN, or RST where unread data or a
//! zero linger says so), freeing dead connections, and FoundationDB's
//! random close.

use tokio::time::Instant;
use tracing::debug;

use super::Net;
use super::connection::{Connection, EndState, Side, send_reset, transmit};
use super::errors::SocketError;
use super::slab::Key;
use crate::fault::FaultKind;
use crate::world::{Wakes, World};

impl World {
    /// The socket of this end was dropped (or its connect abandoned). Like the
    /// kernel: RST if unread data is left or the linger is zero, FIN
    /// otherwise; bytes already written keep flowing to the peer after a FIN.
    pub(crate) fn close(&mut self, key: Key, side: Side, wakes: &mut Wakes) {
        if self.finished {
            return;
        }
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let now = Instant::now();
        let me = conn.end_mut(side);
        match me.state {
            EndState::Open => {
                me.read_waker.clear();
                me.write_waker.clear();
                let local = me.local;
                if me.reset {
                    debug!(%local, "closed after reset");
                    me.discard_buffers();
                } else if me.recv_bytes > 0
                    || (me.options.aborts_on_close() && !(me.fin_received && me.fin_acked))
                {
                    debug!(%local, unread = me.recv_bytes, "closed with unread data or zero linger: RST");
                    send_reset(conn, key, side, net, now, wakes);
                    conn.end_mut(side).discard_buffers();
                } else {
                    debug!(%local, "closed: FIN");
                    me.shutdown = true;
                    transmit(conn, key, side, net, now, wakes);
                }
                conn.end_mut(side).state = EndState::Closed;
            }
            EndState::Connecting | EndState::Refused | EndState::SynTimedOut => {
                me.read_waker.clear();
                me.state = EndState::Closed;
            }
            EndState::Unborn | EndState::Closed => {}
        }
        self.free_if_dead(key);
    }

    /// Frees a connection no socket uses any more, and the client's port.
    pub(crate) fn free_if_dead(&mut self, key: Key) {
        if !self.conns.get(key).is_some_and(|conn| conn.is_dead()) {
            return;
        }
        if let Some(conn) = self.conns.remove(key) {
            let client = conn.end(Side::Client);
            if client.ephemeral {
                self.hosts.release_port(client.host, client.local.port());
            }
        }
    }
}

/// FoundationDB's `rollRandomClose`: on a read or write, maybe close the
/// connection (FIN or RST; both ends, or only the peer told). The call that
/// rolled it then finds the connection as the close left it.
pub(super) fn random_close(
    conn: &mut Connection,
    key: Key,
    side: Side,
    net: &mut Net,
    wakes: &mut Wakes,
) {
    let path = conn.path(side);
    if !net.faults.config.random_close.enabled || net.faults.is_stable(path.src, path.dst) {
        return;
    }
    let now = Instant::now();
    let Some(roll) = net.faults.roll_close(now) else {
        return;
    };
    net.fault(now, FaultKind::RandomClose, path.from, path.to);
    debug!(local = %path.from, peer = %path.to, rst = roll.rst, both = roll.both, "random close");
    if roll.rst {
        send_reset(conn, key, side, net, now, wakes);
        let me = conn.end_mut(side);
        if roll.both || roll.fail_now {
            me.abort(SocketError::Reset);
            me.wake_all(wakes);
        }
        // Otherwise only the peer is told: this end stays open (a half-open
        // connection).
        return;
    }
    // FIN: our write half closes (the peer reads EOF after what we sent) ...
    conn.end_mut(side).shutdown = true;
    transmit(conn, key, side, net, now, wakes);
    if roll.both {
        // ... and, closing both ends, the peer's write half too.
        conn.end_mut(side.other()).shutdown = true;
        if conn.end(side.other()).state == EndState::Open {
            transmit(conn, key, side.other(), net, now, wakes);
        }
    }
}
