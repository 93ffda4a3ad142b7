//! Readiness and non-blocking calls of `SimTcpStream`, as tokio's
//! `TcpStream` has them: `ready`/`readable`/`writable`, their `poll_*`
//! forms, `try_read*`/`try_write*`/`try_io`/`async_io`, and `peek`.
//!
//! Readiness is level-triggered here (the simulated kernel is asked each
//! time), where tokio caches epoll's edges; both report a socket ready when a
//! call would not block, so code written for one works on the other.

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
use tokio::io::{Interest, ReadBuf, Ready};

use super::SimTcpStream;
use crate::net::io::ReadMode;

impl SimTcpStream {
    /// Waits until the stream is ready for something `interest` asks about
    /// (several tasks may wait at once; each is woken)
    /// and returns what it is ready for (tokio's `TcpStream::ready`):
    /// readable (data, EOF, or a reset to report), writable (room in the
    /// send buffer, or a write that would fail at once), closed directions,
    /// errors.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.poll_ready(cx, interest)).await
    }

    /// Waits until a read would not block.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Waits until a write would not block.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Polls for read readiness. Every task waiting on this direction is
    /// woken by the next change (tokio promises only the most recent
    /// `poll_read_ready` caller; waking more is harmless).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, Interest::READABLE).map_ok(drop)
    }

    /// Polls for write readiness. Every task waiting on this direction is
    /// woken by the next change (tokio promises only the most recent
    /// `poll_write_ready` caller).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(cx, Interest::WRITABLE).map_ok(drop)
    }

    pub(crate) fn poll_ready(
        &self,
        cx: &Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Ready>> {
        self.shared
            .lock()
            .poll_ready(self.conn, self.side, interest, cx)
    }

    /// Reads what has arrived without waiting: `Ok(n)` bytes, `Ok(0)` at EOF
    /// (or after a reported reset), the connection's error, or `WouldBlock`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        match self.poll_read_mode(None, &mut buf, ReadMode::Consume) {
            Poll::Ready(Ok(())) => Ok(buf.filled().len()),
            Poll::Ready(Err(error)) => Err(error),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// [`try_read`](Self::try_read) into several buffers, filled in order.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let total = bufs.iter().map(|buf| buf.len()).sum();
        let mut staging = vec![0u8; total];
        let n = self.try_read(&mut staging)?;
        let mut from = &staging[..n];
        for buf in bufs.iter_mut() {
            if from.is_empty() {
                break;
            }
            let take = buf.len().min(from.len());
            buf[..take].copy_from_slice(&from[..take]);
            from = &from[take..];
        }
        Ok(n)
    }

    /// [`try_read`](Self::try_read) into the spare capacity of `buf`,
    /// advancing it.
    pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        let mut staging = vec![0u8; buf.chunk_mut().len()];
        let n = self.try_read(&mut staging)?;
        buf.put_slice(&staging[..n]);
        Ok(n)
    }

    /// Writes what fits in the send buffer without waiting: `Ok(n)` bytes,
    /// the write half's error, or `WouldBlock` when the buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let poll = self.write_with(None, buf.len(), |n| Bytes::copy_from_slice(&buf[..n]));
        would_block(poll)
    }

    /// [`try_write`](Self::try_write) of several buffers, in order.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        would_block(self.poll_write_vectored_priv(None, bufs))
    }

    /// Calls `f` if the stream is ready for `interest`, else returns
    /// `WouldBlock` (tokio's `try_io`). There is no descriptor to make system
    /// calls on: `f` does its I/O through this stream's `try_*` methods.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let ready = self
            .shared
            .lock()
            .readiness(self.conn, self.side, interest)?;
        if ready.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        f()
    }

    /// Waits for `interest`, calls `f`, and waits again each time `f` says
    /// `WouldBlock` (tokio's `async_io`); see [`try_io`](Self::try_io).
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            self.ready(interest).await?;
            match f() {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.next_change(interest).await;
                }
                result => return result,
            }
        }
    }

    /// Returns once something happens to the stream that `interest` cares
    /// about (the simulator's "readiness was cleared, wait for an edge").
    async fn next_change(&self, interest: Interest) {
        let mut waited = false;
        poll_fn(|cx| {
            if waited {
                return Poll::Ready(());
            }
            waited = true;
            self.shared
                .lock()
                .wait_for_change(self.conn, self.side, interest, cx);
            Poll::Pending
        })
        .await;
    }

    /// Copies what has arrived into `buf` without taking it (`MSG_PEEK`),
    /// waiting for data like a read; successive peeks see the same bytes.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        poll_fn(|cx| self.poll_peek(cx, &mut buf)).await
    }

    /// Polls a [`peek`](Self::peek): the number of bytes copied into `buf`.
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let before = buf.filled().len();
        self.poll_read_mode(Some(cx), buf, ReadMode::Peek)
            .map_ok(|()| buf.filled().len() - before)
    }
}

fn would_block(poll: Poll<io::Result<usize>>) -> io::Result<usize> {
    match poll {
        Poll::Ready(result) => result,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}
