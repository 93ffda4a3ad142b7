//! Owned halves of a `SimTcpStream` (tokio's `OwnedReadHalf`,
//! `OwnedWriteHalf` and `ReuniteError`): each can move to its own task.

use std::error::Error;
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::SimTcpStream;
use super::split::{read_half_methods, write_half_methods};
use crate::net::io::ReadMode;

/// The read half of [`SimTcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Arc<SimTcpStream>,
}

/// The write half of [`SimTcpStream::into_split`]. Dropping it shuts the
/// write direction down (FIN), unless it was [`forget`](Self::forget)-ed or
/// already shut down.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Arc<SimTcpStream>,
    shutdown_on_drop: bool,
}

/// [`OwnedReadHalf::reunite`] was given halves of two different streams;
/// both are handed back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tried to reunite halves that are not from the same socket"
        )
    }
}

impl Error for ReuniteError {}

pub(crate) fn split_owned(stream: SimTcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let inner = Arc::new(stream);
    let read = OwnedReadHalf {
        inner: Arc::clone(&inner),
    };
    (
        read,
        OwnedWriteHalf {
            inner,
            shutdown_on_drop: true,
        },
    )
}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<SimTcpStream, ReuniteError> {
    if !Arc::ptr_eq(&read.inner, &write.inner) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    Arc::try_unwrap(read.inner).map_err(|inner| {
        // Unreachable: only the two halves ever hold the stream. Hand them
        // back rather than panic.
        let write = OwnedWriteHalf {
            inner: Arc::clone(&inner),
            shutdown_on_drop: false,
        };
        ReuniteError(OwnedReadHalf { inner }, write)
    })
}

impl OwnedReadHalf {
    fn stream(&self) -> &SimTcpStream {
        &self.inner
    }

    /// Puts the stream back together; fails if `other` is the write half of
    /// another stream.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<SimTcpStream, ReuniteError> {
        reunite(self, other)
    }

    read_half_methods!();
}

impl OwnedWriteHalf {
    fn stream(&self) -> &SimTcpStream {
        &self.inner
    }

    /// Puts the stream back together; fails if `other` is the read half of
    /// another stream.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<SimTcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// Drops the half without shutting the write direction down.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
        drop(self);
    }

    write_half_methods!();
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // A failure (the host crashed) leaves nothing to shut down.
            let _ = self.inner.shutdown_priv();
        }
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.poll_read_mode(Some(cx), buf, ReadMode::Consume)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_vectored_priv(Some(cx), bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = self.inner.shutdown_priv();
        if result.is_ok() {
            Pin::into_inner(self).shutdown_on_drop = false;
        }
        Poll::Ready(result)
    }
}

impl AsRef<SimTcpStream> for OwnedReadHalf {
    fn as_ref(&self) -> &SimTcpStream {
        &self.inner
    }
}

impl AsRef<SimTcpStream> for OwnedWriteHalf {
    fn as_ref(&self) -> &SimTcpStream {
        &self.inner
    }
}
