//! Reading, writing and shutting down one end of a connection: what
//! `SimTcpStream`'s `AsyncRead`/`AsyncWrite` and `try_*` calls do, under the
//! lock.

use std::io;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::ReadBuf;
use tokio::time::Instant;
use tracing::debug;

use super::close::random_close;
use super::connection::{EndState, Endpoint, Side, store_waker, transmit};
use super::errors;
use super::slab::Key;
use crate::fault::FaultKind;
use crate::world::{Wakes, World};

/// Whether a read takes the bytes it copies or leaves them (`MSG_PEEK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadMode {
    Consume,
    Peek,
}

impl World {
    /// Reads what arrived into `buf`, as Linux's `tcp_recvmsg`: bytes first
    /// (even after a RST), then EOF if the peer's FIN came, then the
    /// connection's error once, then `Ok(0)` for ever. `cx: None` is a
    /// non-blocking attempt: `Pending` then means "would block", and no
    /// waker is stored.
    pub(crate) fn read(
        &mut self,
        key: Key,
        side: Side,
        cx: Option<&Context<'_>>,
        buf: &mut ReadBuf<'_>,
        mode: ReadMode,
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
        let mut limit = buf.remaining();
        if !me.reset && mode == ReadMode::Consume && net.faults.active && !conn.stable {
            random_close(conn, key, side, net, wakes);
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
        if me.recv_bytes == 0 {
            if me.fin_received {
                return Poll::Ready(Ok(()));
            }
            if let Some(error) = me.error.take() {
                return Poll::Ready(Err(error.into_io()));
            }
            if me.reset {
                return Poll::Ready(Ok(()));
            }
            if let Some(cx) = cx {
                store_waker(&mut me.read_waker, cx.waker());
            }
            return Poll::Pending;
        }
        if mode == ReadMode::Peek {
            copy_unread(me, buf, limit);
            return Poll::Ready(Ok(()));
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
        if !me.reset && conn.end(side.other()).unsent_bytes > 0 {
            transmit(conn, key, side.other(), net, Instant::now(), wakes);
        }
        Poll::Ready(Ok(()))
    }

    /// Accepts up to `len` bytes if the send buffer has room; `fill(n)` copies
    /// the first `n` of them into one `Bytes`, the only copy on the way in.
    /// A write to a closed write half fails even when empty, as Linux's
    /// `tcp_sendmsg` does. `cx: None` is a non-blocking attempt.
    pub(crate) fn write(
        &mut self,
        key: Key,
        side: Side,
        cx: Option<&Context<'_>>,
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
        if let Some(error) = write_error(me) {
            return Poll::Ready(Err(error));
        }
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut len = len;
        if net.faults.active && !conn.stable {
            random_close(conn, key, side, net, wakes);
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
        if let Some(error) = write_error(me) {
            // A random close just closed this end: nothing more is sent.
            return Poll::Ready(Err(error));
        }
        let room = me
            .options
            .send_buffer
            .saturating_sub(me.unsent_bytes + me.in_flight);
        if room == 0 {
            if let Some(cx) = cx {
                store_waker(&mut me.write_waker, cx.waker());
            }
            return Poll::Pending;
        }
        let accepted = room.min(len);
        me.unsent.push_back(fill(accepted));
        me.unsent_bytes += accepted;
        transmit(conn, key, side, net, Instant::now(), wakes);
        Poll::Ready(Ok(accepted))
    }

    /// Closes the write half: FIN goes out after the bytes already written.
    /// On a reset connection it does nothing and succeeds, as tokio's
    /// `poll_shutdown` turns Linux's `ENOTCONN` into `Ok`.
    pub(crate) fn shutdown(&mut self, key: Key, side: Side, wakes: &mut Wakes) -> io::Result<()> {
        let World { net, conns, .. } = self;
        let Some(conn) = conns.get_mut(key) else {
            return Err(errors::aborted());
        };
        let me = conn.end_mut(side);
        if me.state != EndState::Open {
            return Err(errors::aborted());
        }
        if !me.shutdown && !me.reset {
            me.shutdown = true;
            debug!(local = %me.local, "shutdown: FIN queued");
            transmit(conn, key, side, net, Instant::now(), wakes);
        }
        Ok(())
    }
}

/// Why a write on `me` fails at once, if it does: the pending error
/// (reported once), else `EPIPE` for a write half closed by our shutdown,
/// a RST or a timeout.
fn write_error(me: &mut Endpoint) -> Option<io::Error> {
    if let Some(error) = me.error.take() {
        return Some(error.into_io());
    }
    (me.shutdown || me.reset).then(errors::broken_pipe)
}

/// Copies up to `limit` unread bytes of `me` into `buf` without taking them.
fn copy_unread(me: &Endpoint, buf: &mut ReadBuf<'_>, limit: usize) {
    let mut copied = 0;
    for chunk in &me.recv {
        if copied == limit {
            break;
        }
        let len = chunk.len().min(limit - copied);
        buf.put_slice(&chunk[..len]);
        copied += len;
    }
}
