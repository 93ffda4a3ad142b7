//! Reading, writing, shutting down and closing one end of a connection:
//! what `SimTcpStream`'s `AsyncRead`/`AsyncWrite`/`Drop` do, under the lock.

use std::io;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::ReadBuf;
use tokio::time::Instant;
use tracing::debug;

use super::Net;
use super::connection::Connection;
use super::connection::{EndState, Side, send_reset, store_waker, transmit};
use super::errors;
use super::slab::Key;
use crate::fault::FaultKind;
use crate::world::{Wakes, World};

impl World {
    pub(crate) fn read(
        &mut self,
        key: Key,
        side: Side,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        wakes: &mut Wakes,
    ) -> Poll<io::Result<()>> {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return Poll::Ready(Err(errors::aborted()));
        };
        let me = conn.end_mut(side);
        if me.state != EndState::Open {
            return Poll::Ready(Err(errors::aborted()));
        }
        if me.reset {
            return Poll::Ready(Err(errors::reset_or_timeout(me.timed_out)));
        }
        let mut limit = buf.remaining();
        if net.faults.active && !conn.stable {
            if let Some(error) = random_close(conn, key, side, false, net, wakes) {
                return Poll::Ready(Err(error));
            }
            let path = conn.path(side.other());
            let me = conn.end(side);
            if net.faults.config.short_io.enabled
                && !net.faults.is_stable(path.src, path.dst)
                && let Some(short) = net.faults.short(limit.min(me.recv_bytes), false)
            {
                limit = short;
                net.fault(Instant::now(), FaultKind::ShortRead, path.from, path.to);
            }
        }
        let me = conn.end_mut(side);
        if me.reset {
            return Poll::Ready(Err(errors::reset_or_timeout(me.timed_out)));
        }
        if me.recv_bytes == 0 {
            if me.fin_received {
                return Poll::Ready(Ok(()));
            }
            store_waker(&mut me.read_waker, cx.waker());
            return Poll::Pending;
        }
        let mut copied = 0;
        while copied < limit {
            let Some(front) = me.recv.front_mut() else {
                break;
            };
            let len = front.len().min(limit - copied);
            buf.put_slice(&front[..len]);
            if len == front.len() {
                me.recv.pop_front();
            } else {
                front.advance(len);
            }
            copied += len;
        }
        me.recv_bytes -= copied;
        // Reading opened the window: the peer may put more on the wire.
        if conn.end(side.other()).unsent_bytes > 0 {
            transmit(conn, key, side.other(), net, Instant::now(), wakes);
        }
        Poll::Ready(Ok(()))
    }

    /// Accepts up to `len` bytes if the send buffer has room; `fill(n)` copies
    /// the first `n` of them into one `Bytes`, the only copy on the way in.
    pub(crate) fn write(
        &mut self,
        key: Key,
        side: Side,
        cx: &mut Context<'_>,
        len: usize,
        fill: impl FnOnce(usize) -> Bytes,
        wakes: &mut Wakes,
    ) -> Poll<io::Result<usize>> {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return Poll::Ready(Err(errors::aborted()));
        };
        let me = conn.end_mut(side);
        if me.state != EndState::Open {
            return Poll::Ready(Err(errors::aborted()));
        }
        if me.reset {
            return Poll::Ready(Err(errors::reset_or_timeout(me.timed_out)));
        }
        if me.shutdown {
            return Poll::Ready(Err(errors::broken_pipe()));
        }
        let mut len = len;
        if net.faults.active && !conn.stable {
            if let Some(error) = random_close(conn, key, side, true, net, wakes) {
                return Poll::Ready(Err(error));
            }
            let path = conn.path(side);
            if net.faults.config.short_io.enabled
                && !net.faults.is_stable(path.src, path.dst)
                && let Some(short) = net.faults.short(len, true)
            {
                len = short;
                net.fault(Instant::now(), FaultKind::ShortWrite, path.from, path.to);
            }
        }
        let me = conn.end_mut(side);
        if me.reset {
            // A random close just reset this end: nothing more is sent.
            return Poll::Ready(Err(errors::reset_or_timeout(me.timed_out)));
        }
        let room = net
            .config
            .send_buffer
            .saturating_sub(me.unsent_bytes + me.in_flight);
        if room == 0 {
            store_waker(&mut me.write_waker, cx.waker());
            return Poll::Pending;
        }
        let accepted = room.min(len);
        me.unsent.push_back(fill(accepted));
        me.unsent_bytes += accepted;
        transmit(conn, key, side, net, Instant::now(), wakes);
        Poll::Ready(Ok(accepted))
    }

    /// Closes the write half: FIN goes out after the bytes already written.
    pub(crate) fn shutdown(&mut self, key: Key, side: Side, wakes: &mut Wakes) -> io::Result<()> {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return Err(errors::aborted());
        };
        let me = conn.end_mut(side);
        if me.state != EndState::Open {
            return Err(errors::aborted());
        }
        if me.reset {
            return Err(errors::not_connected());
        }
        if !me.shutdown {
            me.shutdown = true;
            debug!(local = %me.local, "shutdown: FIN queued");
            transmit(conn, key, side, net, Instant::now(), wakes);
        }
        Ok(())
    }

    /// The socket of this end was dropped (or its connect abandoned). Like the
    /// kernel: RST if unread data is left, FIN otherwise; bytes already
    /// written keep flowing to the peer.
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
                me.read_waker = None;
                me.write_waker = None;
                let local = me.local;
                if me.reset {
                    debug!(%local, "closed after reset");
                } else if me.recv_bytes > 0 {
                    debug!(%local, unread = me.recv_bytes, "closed with unread data: RST");
                    send_reset(conn, key, side, net, now, wakes);
                    conn.end_mut(side).discard_buffers();
                } else {
                    debug!(%local, "closed: FIN");
                    me.shutdown = true;
                    transmit(conn, key, side, net, now, wakes);
                }
                conn.end_mut(side).state = EndState::Closed;
            }
            EndState::Connecting | EndState::Refused => {
                me.read_waker = None;
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
/// connection (FIN or RST; both ends, or only the peer told). Returns the
/// error the current call fails with, if it fails at once.
fn random_close(
    conn: &mut Connection,
    key: Key,
    side: Side,
    writing: bool,
    net: &mut Net,
    wakes: &mut Wakes,
) -> Option<io::Error> {
    let path = conn.path(side);
    if !net.faults.config.random_close.enabled || net.faults.is_stable(path.src, path.dst) {
        return None;
    }
    let now = Instant::now();
    let roll = net.faults.roll_close(now)?;
    net.fault(now, FaultKind::RandomClose, path.from, path.to);
    debug!(local = %path.from, peer = %path.to, rst = roll.rst, both = roll.both, "random close");
    if roll.rst {
        send_reset(conn, key, side, net, now, wakes);
        let me = conn.end_mut(side);
        if roll.both || roll.fail_now {
            me.abort();
            me.wake_all(wakes);
        }
        // Otherwise only the peer is told: this end keeps what it received
        // and stays readable (a half-open connection), so it must not lose
        // any of it.
        return roll.fail_now.then(errors::reset);
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
    // A write after our own FIN is refused (bytes never follow a FIN).
    writing.then(errors::broken_pipe)
}
