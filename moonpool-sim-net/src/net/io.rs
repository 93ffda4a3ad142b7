//! Reading, writing, shutting down and closing one end of a connection:
//! what `SimTcpStream`'s `AsyncRead`/`AsyncWrite`/`Drop` do, under the lock.

use std::io;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::ReadBuf;
use tokio::time::Instant;
use tracing::debug;

use super::connection::{EndState, Side, send_reset, store_waker, transmit};
use super::errors;
use super::slab::Key;
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
            return Poll::Ready(Err(errors::reset()));
        }
        if me.recv_bytes == 0 {
            if me.fin_received {
                return Poll::Ready(Ok(()));
            }
            store_waker(&mut me.read_waker, cx.waker());
            return Poll::Pending;
        }
        let mut copied = 0;
        while buf.remaining() > 0 {
            let Some(front) = me.recv.front_mut() else {
                break;
            };
            let len = front.len().min(buf.remaining());
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
            return Poll::Ready(Err(errors::reset()));
        }
        if me.shutdown {
            return Poll::Ready(Err(errors::broken_pipe()));
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
