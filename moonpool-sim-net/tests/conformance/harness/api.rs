//! The tokio `TcpStream` methods a body calls, as one trait implemented for
//! both `tokio::net::TcpStream` and `SimTcpStream` by the same macro: if the
//! simulator's signatures differed from tokio's, this would not compile.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

use super::half_api::{ReadHalfApi, WriteHalfApi};

/// A stream with tokio's `TcpStream` API.
pub(crate) trait StreamApi:
    AsyncRead + AsyncWrite + std::fmt::Debug + Send + Sync + Unpin + Sized + 'static
{
    type OwnedRead: ReadHalfApi;
    type OwnedWrite: WriteHalfApi;

    fn local_addr(&self) -> io::Result<SocketAddr>;
    fn peer_addr(&self) -> io::Result<SocketAddr>;
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    fn nodelay(&self) -> io::Result<bool>;
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;
    fn linger(&self) -> io::Result<Option<Duration>>;
    fn set_linger(&self, linger: Option<Duration>) -> io::Result<()>;
    fn set_zero_linger(&self) -> io::Result<()>;
    fn ttl(&self) -> io::Result<u32>;
    fn set_ttl(&self, ttl: u32) -> io::Result<()>;
    fn ready(&self, interest: Interest) -> impl Future<Output = io::Result<Ready>> + Send;
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send;
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize>;
    fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize>;
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn try_io_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn async_io_read(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
    fn quickack(&self) -> io::Result<bool>;
    fn set_quickack(&self, quickack: bool) -> io::Result<()>;
    fn peek(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
    fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>>;
    fn into_split(self) -> (Self::OwnedRead, Self::OwnedWrite);
    fn reunite(read: Self::OwnedRead, write: Self::OwnedWrite) -> Result<Self, String>;
    /// Splits into borrowed halves, writes `out` on the write half while
    /// reading exactly `into.len()` bytes on the read half.
    fn split_exchange(
        &mut self,
        out: &[u8],
        into: &mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send;
}

macro_rules! stream_api {
    ($stream:ty, $read:ty, $write:ty) => {
        impl StreamApi for $stream {
            type OwnedRead = $read;
            type OwnedWrite = $write;

            fn local_addr(&self) -> io::Result<SocketAddr> {
                <$stream>::local_addr(self)
            }
            fn peer_addr(&self) -> io::Result<SocketAddr> {
                <$stream>::peer_addr(self)
            }
            fn take_error(&self) -> io::Result<Option<io::Error>> {
                <$stream>::take_error(self)
            }
            fn nodelay(&self) -> io::Result<bool> {
                <$stream>::nodelay(self)
            }
            fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
                <$stream>::set_nodelay(self, nodelay)
            }
            fn linger(&self) -> io::Result<Option<Duration>> {
                <$stream>::linger(self)
            }
            #[allow(deprecated)]
            fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
                <$stream>::set_linger(self, linger)
            }
            fn set_zero_linger(&self) -> io::Result<()> {
                <$stream>::set_zero_linger(self)
            }
            fn ttl(&self) -> io::Result<u32> {
                <$stream>::ttl(self)
            }
            fn set_ttl(&self, ttl: u32) -> io::Result<()> {
                <$stream>::set_ttl(self, ttl)
            }
            async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                <$stream>::ready(self, interest).await
            }
            async fn readable(&self) -> io::Result<()> {
                <$stream>::readable(self).await
            }
            async fn writable(&self) -> io::Result<()> {
                <$stream>::writable(self).await
            }
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$stream>::poll_read_ready(self, cx)
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$stream>::poll_write_ready(self, cx)
            }
            fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$stream>::try_read(self, buf)
            }
            fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                <$stream>::try_read_vectored(self, bufs)
            }
            fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
                <$stream>::try_read_buf(self, buf)
            }
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$stream>::try_write(self, buf)
            }
            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                <$stream>::try_write_vectored(self, bufs)
            }
            fn try_io_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$stream>::try_io(self, Interest::READABLE, || <$stream>::try_read(self, buf))
            }
            async fn async_io_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$stream>::async_io(self, Interest::READABLE, || <$stream>::try_read(self, buf))
                    .await
            }
            fn quickack(&self) -> io::Result<bool> {
                <$stream>::quickack(self)
            }
            fn set_quickack(&self, quickack: bool) -> io::Result<()> {
                <$stream>::set_quickack(self, quickack)
            }
            async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$stream>::peek(self, buf).await
            }
            fn poll_peek(
                &self,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<usize>> {
                <$stream>::poll_peek(self, cx, buf)
            }
            fn into_split(self) -> ($read, $write) {
                <$stream>::into_split(self)
            }
            fn reunite(read: $read, write: $write) -> Result<Self, String> {
                read.reunite(write).map_err(|error| error.to_string())
            }
            async fn split_exchange(&mut self, out: &[u8], into: &mut [u8]) -> io::Result<()> {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let (mut read, mut write) = <$stream>::split(self);
                let (written, read) = tokio::join!(write.write_all(out), read.read_exact(into));
                written?;
                read.map(drop)
            }
        }
    };
}

stream_api!(
    tokio::net::TcpStream,
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf
);
stream_api!(
    moonpool_sim_net::SimTcpStream,
    moonpool_sim_net::OwnedReadHalf,
    moonpool_sim_net::OwnedWriteHalf
);
