//! Borrowed halves of a `SimTcpStream` (tokio's `tcp::ReadHalf` and
//! `tcp::WriteHalf`), and the methods every read or write half shares.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::SimTcpStream;
use crate::net::io::ReadMode;

/// The methods of a read half: readiness, `try_read*`, `peek`, addresses.
macro_rules! read_half_methods {
    () => {
        /// Polls a peek: see [`SimTcpStream::poll_peek`](crate::SimTcpStream::poll_peek).
        pub fn poll_peek(
            &mut self,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.stream().poll_peek(cx, buf)
        }

        /// Peeks: see [`SimTcpStream::peek`](crate::SimTcpStream::peek).
        pub async fn peek(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.stream().peek(buf).await
        }

        /// Waits for readiness: see [`SimTcpStream::ready`](crate::SimTcpStream::ready).
        pub async fn ready(
            &self,
            interest: tokio::io::Interest,
        ) -> std::io::Result<tokio::io::Ready> {
            self.stream().ready(interest).await
        }

        /// Waits until a read would not block.
        pub async fn readable(&self) -> std::io::Result<()> {
            self.stream().readable().await
        }

        /// Reads without waiting: see [`SimTcpStream::try_read`](crate::SimTcpStream::try_read).
        pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.stream().try_read(buf)
        }

        /// Reads into several buffers without waiting.
        pub fn try_read_vectored(
            &self,
            bufs: &mut [std::io::IoSliceMut<'_>],
        ) -> std::io::Result<usize> {
            self.stream().try_read_vectored(bufs)
        }

        /// Reads into a `BufMut` without waiting.
        pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
            self.stream().try_read_buf(buf)
        }

        /// The remote address: see [`SimTcpStream::peer_addr`](crate::SimTcpStream::peer_addr).
        pub fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
            self.stream().peer_addr()
        }

        /// The local address.
        pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
            self.stream().local_addr()
        }
    };
}

/// The methods of a write half: readiness, `try_write*`, addresses.
macro_rules! write_half_methods {
    () => {
        /// Waits for readiness: see [`SimTcpStream::ready`](crate::SimTcpStream::ready).
        pub async fn ready(
            &self,
            interest: tokio::io::Interest,
        ) -> std::io::Result<tokio::io::Ready> {
            self.stream().ready(interest).await
        }

        /// Waits until a write would not block.
        pub async fn writable(&self) -> std::io::Result<()> {
            self.stream().writable().await
        }

        /// Writes without waiting: see [`SimTcpStream::try_write`](crate::SimTcpStream::try_write).
        pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.stream().try_write(buf)
        }

        /// Writes several buffers without waiting.
        pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            self.stream().try_write_vectored(bufs)
        }

        /// The remote address: see [`SimTcpStream::peer_addr`](crate::SimTcpStream::peer_addr).
        pub fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
            self.stream().peer_addr()
        }

        /// The local address.
        pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
            self.stream().local_addr()
        }
    };
}
pub(crate) use {read_half_methods, write_half_methods};

/// The read half of a borrowed [`SimTcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a SimTcpStream);

/// The write half of a borrowed [`SimTcpStream::split`]; its `poll_shutdown`
/// shuts the stream's write direction down.
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a SimTcpStream);

pub(crate) fn split(stream: &mut SimTcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(&*stream), WriteHalf(&*stream))
}

impl ReadHalf<'_> {
    fn stream(&self) -> &SimTcpStream {
        self.0
    }

    read_half_methods!();
}

impl WriteHalf<'_> {
    fn stream(&self) -> &SimTcpStream {
        self.0
    }

    write_half_methods!();
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.poll_read_mode(Some(cx), buf, ReadMode::Consume)
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_priv(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_vectored_priv(Some(cx), bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.shutdown_priv())
    }
}

impl AsRef<SimTcpStream> for ReadHalf<'_> {
    fn as_ref(&self) -> &SimTcpStream {
        self.0
    }
}

impl AsRef<SimTcpStream> for WriteHalf<'_> {
    fn as_ref(&self) -> &SimTcpStream {
        self.0
    }
}
