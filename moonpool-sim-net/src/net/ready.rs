//! Readiness: what `tcp_poll` would report for one end, mapped to tokio's
//! `Ready` as mio maps epoll's bits, and waiting for it to change.

use std::io;
use std::task::{Context, Poll};

use tokio::io::{Interest, Ready};

use super::connection::{EndState, Endpoint, Side, store_waker};
use super::errors;
use super::slab::Key;
use crate::world::World;

impl Endpoint {
    /// Linux's `tcp_poll` for this end, as tokio's `Ready`.
    pub(crate) fn readiness(&self) -> Ready {
        if self.state != EndState::Open {
            // The socket is gone (its host crashed): every call returns at
            // once, with the error.
            return Ready::READABLE | Ready::WRITABLE | Ready::READ_CLOSED | Ready::WRITE_CLOSED;
        }
        let mut ready = Ready::EMPTY;
        // EPOLLHUP: both directions shut (a RST, a timeout, or both FINs).
        let hang_up = self.reset || (self.fin_received && self.shutdown);
        if self.recv_bytes > 0 || self.fin_received || self.reset {
            ready |= Ready::READABLE;
        }
        if self.fin_received || self.reset {
            ready |= Ready::READ_CLOSED;
        }
        let room = self.options.send_buffer > self.unsent_bytes + self.in_flight;
        if self.shutdown || self.reset || room {
            ready |= Ready::WRITABLE;
        }
        if hang_up || self.error.is_some() {
            ready |= Ready::WRITE_CLOSED;
        }
        if self.error.is_some() {
            ready |= Ready::ERROR;
        }
        ready
    }
}

/// The part of `ready` that `interest` asks about, as tokio masks it:
/// readable with read-closed, writable with write-closed, and errors.
pub(crate) fn masked(ready: Ready, interest: Interest) -> Ready {
    let mut mask = Ready::EMPTY;
    if interest.is_readable() {
        mask |= Ready::READABLE | Ready::READ_CLOSED;
    }
    if interest.is_writable() {
        mask |= Ready::WRITABLE | Ready::WRITE_CLOSED;
    }
    if interest.is_error() {
        mask |= Ready::ERROR;
    }
    ready & mask
}

impl World {
    /// The readiness of `side` that `interest` asks about, now.
    pub(crate) fn readiness(&self, key: Key, side: Side, interest: Interest) -> io::Result<Ready> {
        let conn = self.conns.get(key).ok_or_else(errors::aborted)?;
        Ok(masked(conn.end(side).readiness(), interest))
    }

    /// Waits until `side` is ready for something `interest` asks about; the
    /// waker is kept in the read slot, the write slot, or both.
    pub(crate) fn poll_ready(
        &mut self,
        key: Key,
        side: Side,
        interest: Interest,
        cx: &Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Poll::Ready(Err(errors::aborted()));
        };
        let me = conn.end_mut(side);
        let ready = masked(me.readiness(), interest);
        if !ready.is_empty() {
            return Poll::Ready(Ok(ready));
        }
        self.wait_for_change(key, side, interest, cx);
        Poll::Pending
    }

    /// Keeps `cx`'s waker where the next change `interest` cares about
    /// wakes it (for a caller whose attempt would block).
    pub(crate) fn wait_for_change(
        &mut self,
        key: Key,
        side: Side,
        interest: Interest,
        cx: &Context<'_>,
    ) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let me = conn.end_mut(side);
        if interest.is_readable() || interest.is_error() {
            store_waker(&mut me.read_waker, cx.waker());
        }
        if interest.is_writable() || interest.is_error() {
            store_waker(&mut me.write_waker, cx.waker());
        }
    }
}
