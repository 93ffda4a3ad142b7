//! tokio's `OwnedReadHalf`/`OwnedWriteHalf` methods as traits, implemented
//! for tokio's halves and the simulator's by the same macros.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, Interest, Ready};

/// An owned read half with tokio's API.
pub(crate) trait ReadHalfApi: AsyncRead + std::fmt::Debug + Send + Unpin + 'static {
    fn ready(&self, interest: Interest) -> impl Future<Output = io::Result<Ready>> + Send;
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn peek(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
    fn peer_addr(&self) -> io::Result<SocketAddr>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// An owned write half with tokio's API.
pub(crate) trait WriteHalfApi:
    AsyncWrite + std::fmt::Debug + Send + Unpin + 'static
{
    fn ready(&self, interest: Interest) -> impl Future<Output = io::Result<Ready>> + Send;
    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send;
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    fn peer_addr(&self) -> io::Result<SocketAddr>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
    fn forget(self);
}

macro_rules! half_api {
    ($read:ty, $write:ty) => {
        impl ReadHalfApi for $read {
            async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                <$read>::ready(self, interest).await
            }
            async fn readable(&self) -> io::Result<()> {
                <$read>::readable(self).await
            }
            fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$read>::try_read(self, buf)
            }
            async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                <$read>::peek(self, buf).await
            }
            fn peer_addr(&self) -> io::Result<SocketAddr> {
                <$read>::peer_addr(self)
            }
            fn local_addr(&self) -> io::Result<SocketAddr> {
                <$read>::local_addr(self)
            }
        }

        impl WriteHalfApi for $write {
            async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                <$write>::ready(self, interest).await
            }
            async fn writable(&self) -> io::Result<()> {
                <$write>::writable(self).await
            }
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$write>::try_write(self, buf)
            }
            fn peer_addr(&self) -> io::Result<SocketAddr> {
                <$write>::peer_addr(self)
            }
            fn local_addr(&self) -> io::Result<SocketAddr> {
                <$write>::local_addr(self)
            }
            fn forget(self) {
                <$write>::forget(self)
            }
        }
    };
}

half_api!(
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf
);
half_api!(
    moonpool_sim_net::OwnedReadHalf,
    moonpool_sim_net::OwnedWriteHalf
);
