//! `SimTcpStream`: one end of a simulated TCP connection, with tokio's
//! `TcpStream` API.

mod options;
mod ready;

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::addr::{ToSimAddr, resolve_all};
use super::connector::ConnectFuture;
use super::split::{ReadHalf, WriteHalf, split};
use super::split_owned::{OwnedReadHalf, OwnedWriteHalf, split_owned};
use crate::host::HostContext;
use crate::net::connection::{Endpoint, Side};
use crate::net::errors;
use crate::net::io::ReadMode;
use crate::net::slab::Key;
use crate::world::{Shared, Wakes, World};

/// One end of a simulated TCP connection; use it like `tokio::net::TcpStream`.
///
/// It is `AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static`, so
/// `Framed`, `tokio::io::split`, `tokio::time::timeout` and tower middleware
/// work on it unchanged, and it has `TcpStream`'s methods with their
/// signatures (readiness, `try_*`, `peek`, halves, options). Its semantics
/// are Linux's, as seen through tokio (the conformance suite compares them):
///
/// - bytes arrive in order, after the configured latency, cut at arbitrary
///   points (a read returns what has arrived, up to the buffer's size);
/// - the send buffer and the receiver's buffer are bounded (see
///   [`NetConfig::send_buffer`](crate::NetConfig::send_buffer)): a writer
///   whose peer does not read gets `Pending` until room frees;
/// - `poll_shutdown` sends FIN: the peer reads EOF (`Ok(0)`, repeatedly) and
///   may still write back; our own write after shutdown, even an empty one,
///   is `BrokenPipe`;
/// - dropping the stream sends FIN, or RST if unread data was left in it (or
///   the linger is zero);
/// - after a RST the bytes that arrived before it stay readable; then the
///   reset is reported once (`ConnectionReset`; `BrokenPipe` if the peer had
///   closed first), by a read, a write or `take_error`; then reads return
///   `Ok(0)` and writes `BrokenPipe`, and `peer_addr` is `NotConnected`.
///
/// There is no file descriptor: `from_std`, `into_std` and the raw-fd traits
/// do not exist, and `try_io`'s closure can not make system calls.
pub struct SimTcpStream {
    pub(crate) shared: Arc<Shared>,
    pub(crate) conn: Key,
    pub(crate) side: Side,
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

    /// Connects to `addr` from the current host. `addr` is anything
    /// [`ToSimAddr`]: a socket address, a host name of the simulation
    /// (`"server:7000"`), or a list of addresses; like tokio, each address is
    /// tried in turn and the last error is returned if none connects.
    ///
    /// Fails with `ConnectionRefused` if nobody listens there (or no host has
    /// that address), after one round trip; `TimedOut` if the listener's
    /// accept queue stayed full through every retransmission; `InvalidInput`
    /// if `addr` names no address; `Unsupported` outside a simulated host.
    pub async fn connect<A: ToSimAddr>(addr: A) -> io::Result<SimTcpStream> {
        let ctx = HostContext::current().ok_or_else(errors::outside_host)?;
        let mut last = None;
        for addr in resolve_all(&ctx, &addr)? {
            match ConnectFuture::with_context(Some(ctx.clone()), addr).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(errors::no_address))
    }

    /// The local address: this host's address (or 127.0.0.1 for a loopback
    /// connection) and the port; equal to the peer's `peer_addr`. It stays
    /// available after the connection ends, as on Linux.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The remote address; equal to the peer's `local_addr`. `NotConnected`
    /// once the connection is over for this end (reset, timed out, or FINs
    /// exchanged both ways), as Linux's `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let disconnected = self.with_end(|end| Ok(end.is_disconnected()))?;
        if disconnected {
            return Err(errors::not_connected());
        }
        Ok(self.peer)
    }

    /// Takes the error the connection failed with and no call reported yet
    /// (`SO_ERROR`): `Ok(Some(error))` once, then `Ok(None)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.with_end(|end| Ok(end.error.take().map(|error| error.into_io())))
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

    /// Splits the stream into a read half and a write half that borrow it,
    /// as tokio's `TcpStream::split` (no allocation, no lock of its own).
    pub fn split<'a>(&'a mut self) -> (ReadHalf<'a>, WriteHalf<'a>) {
        split(self)
    }

    /// Splits the stream into owned halves that can move to different
    /// tasks, as tokio's `TcpStream::into_split`. Dropping the write half
    /// shuts the write direction down (unless it is
    /// [`forget`](OwnedWriteHalf::forget)-ed); [`OwnedReadHalf::reunite`]
    /// puts the stream back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned(self)
    }

    /// Runs `f` on this end under the lock; `ConnectionAborted` if the
    /// connection is gone (its host crashed, or the iteration ended).
    pub(crate) fn with_end<R>(
        &self,
        f: impl FnOnce(&mut Endpoint) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut world = self.shared.lock();
        let conn = world.conns.get_mut(self.conn).ok_or_else(errors::aborted)?;
        f(conn.end_mut(self.side))
    }

    /// Runs `f` on the world under the lock, then delivers the wake-ups.
    pub(crate) fn locked<R>(&self, f: impl FnOnce(&mut World, &mut Wakes) -> R) -> R {
        let mut wakes = Wakes::default();
        let result = f(&mut self.shared.lock(), &mut wakes);
        wakes.finish(&self.shared);
        result
    }

    pub(crate) fn poll_read_mode(
        &self,
        cx: Option<&Context<'_>>,
        buf: &mut ReadBuf<'_>,
        mode: ReadMode,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        self.locked(|world, wakes| world.read(self.conn, self.side, cx, buf, mode, wakes))
    }

    pub(crate) fn write_with(
        &self,
        cx: Option<&Context<'_>>,
        len: usize,
        fill: impl FnOnce(usize) -> Bytes,
    ) -> Poll<io::Result<usize>> {
        self.locked(|world, wakes| world.write(self.conn, self.side, cx, len, fill, wakes))
    }

    pub(crate) fn poll_write_priv(&self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write_with(Some(cx), buf.len(), |n| Bytes::copy_from_slice(&buf[..n]))
    }

    pub(crate) fn poll_write_vectored_priv(
        &self,
        cx: Option<&Context<'_>>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|buf| buf.len()).sum();
        self.write_with(cx, total, |n| gather(bufs, n))
    }

    pub(crate) fn shutdown_priv(&self) -> io::Result<()> {
        self.locked(|world, wakes| world.shutdown(self.conn, self.side, wakes))
    }
}

/// The first `n` bytes of `bufs`, in one `Bytes`.
fn gather(bufs: &[IoSlice<'_>], n: usize) -> Bytes {
    let mut bytes = BytesMut::with_capacity(n);
    for buf in bufs {
        let take = buf.len().min(n - bytes.len());
        bytes.extend_from_slice(&buf[..take]);
    }
    bytes.freeze()
}

impl AsyncRead for SimTcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_mode(Some(cx), buf, ReadMode::Consume)
    }
}

impl AsyncWrite for SimTcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(Some(cx), bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Like a kernel socket: written bytes are already on their way.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_priv())
    }
}

impl Drop for SimTcpStream {
    fn drop(&mut self) {
        self.locked(|world, wakes| world.close(self.conn, self.side, wakes));
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
