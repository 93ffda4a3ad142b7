//! `SimTcpStream`: one end of a simulated TCP connection.

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::addr::{ToSimAddr, resolve};
use super::connector::ConnectFuture;
use crate::host::HostContext;
use crate::net::connection::Side;
use crate::net::errors;
use crate::net::slab::Key;
use crate::world::{Shared, Wakes};

/// One end of a simulated TCP connection; use it like `tokio::net::TcpStream`.
///
/// It is `AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static`, so
/// `Framed`, `tokio::io::split`, `tokio::time::timeout` and tower middleware
/// work on it unchanged. Its semantics follow the kernel's:
///
/// - bytes arrive in order, after the configured latency, cut at arbitrary
///   points (a read returns what has arrived, up to the buffer's size);
/// - the send buffer and the receiver's window are bounded: a writer whose
///   peer does not read gets `Pending` until room frees;
/// - `poll_shutdown` sends FIN: the peer reads EOF (`Ok(0)`, repeatedly) and
///   may still write back; our own write after shutdown is `BrokenPipe`;
/// - dropping the stream sends FIN, or RST if unread data was left in it; a
///   RST makes the peer's reads fail with `ConnectionReset`, and its writes
///   fail too;
/// - zero-length reads and writes are no-ops.
pub struct SimTcpStream {
    shared: Arc<Shared>,
    conn: Key,
    side: Side,
    local: SocketAddr,
    peer: SocketAddr,
}

impl SimTcpStream {
    pub(crate) fn new(
        shared: Arc<Shared>,
        conn: Key,
        side: Side,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Self {
        Self {
            shared,
            conn,
            side,
            local,
            peer,
        }
    }

    /// Connects to `addr` from the current host (`addr` may name a host:
    /// `"server:7000"`, see [`ToSimAddr`]).
    ///
    /// Fails with `ConnectionRefused` if nobody listens there (or no host has
    /// that address), after one round trip; with `Unsupported` outside a
    /// simulated host.
    pub async fn connect<A: ToSimAddr>(addr: A) -> io::Result<SimTcpStream> {
        let ctx = HostContext::current().ok_or_else(errors::outside_host)?;
        let addr = resolve(&ctx, &addr)?;
        ConnectFuture::with_context(Some(ctx), addr).await
    }

    /// The local address: this host's address (or 127.0.0.1 for a loopback
    /// connection) and the port; equal to the peer's `peer_addr`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The remote address; equal to the peer's `local_addr`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }

    /// Marks this connection (both of its ends) stable: exempt from every
    /// random fault (clogs, partitions, loss, closes, bit flips, short I/O),
    /// as FoundationDB exempts the connections between a process and its
    /// parent. Scripted faults still apply.
    pub fn mark_stable(&self) {
        if let Some(conn) = self.shared.lock().conns.get_mut(self.conn) {
            conn.stable = true;
        }
    }

    /// Accepted and ignored: the simulated network has no Nagle delay.
    pub fn set_nodelay(&self, _nodelay: bool) -> io::Result<()> {
        Ok(())
    }

    fn write_with(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        fill: impl FnOnce(usize) -> Bytes,
    ) -> Poll<io::Result<usize>> {
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut wakes = Wakes::default();
        let poll = self
            .shared
            .lock()
            .write(self.conn, self.side, cx, len, fill, &mut wakes);
        wakes.finish(&self.shared);
        poll
    }
}

impl AsyncRead for SimTcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut wakes = Wakes::default();
        let poll = self
            .shared
            .lock()
            .read(self.conn, self.side, cx, buf, &mut wakes);
        wakes.finish(&self.shared);
        poll
    }
}

impl AsyncWrite for SimTcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_with(cx, buf.len(), |n| Bytes::copy_from_slice(&buf[..n]))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|buf| buf.len()).sum();
        self.write_with(cx, total, |n| {
            let mut bytes = BytesMut::with_capacity(n);
            for buf in bufs {
                let take = buf.len().min(n - bytes.len());
                bytes.extend_from_slice(&buf[..take]);
            }
            bytes.freeze()
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Like a kernel socket: written bytes are already on their way.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut wakes = Wakes::default();
        let result = self
            .shared
            .lock()
            .shutdown(self.conn, self.side, &mut wakes);
        wakes.finish(&self.shared);
        Poll::Ready(result)
    }
}

impl Drop for SimTcpStream {
    fn drop(&mut self) {
        let mut wakes = Wakes::default();
        self.shared.lock().close(self.conn, self.side, &mut wakes);
        wakes.finish(&self.shared);
    }
}

impl fmt::Debug for SimTcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTcpStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .finish()
    }
}
