//! Real TCP: a connector and a stream of accepted connections.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Connects over TCP with `TCP_NODELAY` set.
///
/// moonpool coalesces its own writes (a peer flushes when its queue
/// drains), so Nagle's algorithm would only add latency to small frames.
///
/// ```no_run
/// use moonpool_tower::net::TcpConnector;
/// use tower::ServiceExt;
///
/// # async fn run() -> std::io::Result<()> {
/// let stream = TcpConnector::new().oneshot("127.0.0.1:4500".parse().unwrap()).await?;
/// assert!(stream.nodelay()?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpConnector {
    _private: (),
}

impl TcpConnector {
    /// A connector.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl tower::Service<SocketAddr> for TcpConnector {
    type Response = TcpStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, addr: SocketAddr) -> Self::Future {
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    }
}

/// The connections a TCP listener accepts, as a stream of
/// `io::Result<(TcpStream, SocketAddr)>`, each with `TCP_NODELAY` set.
///
/// An accept error (for instance too many open files) is yielded as an
/// item; the stream itself never ends.
#[derive(Debug)]
pub struct TcpIncoming {
    listener: TcpListener,
}

/// The tunables of a TCP listener ([`TcpIncoming::bind_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpListenConfig {
    /// The listen backlog: connections the kernel completes and holds
    /// until the node accepts them. Default 4096 (Linux caps it at
    /// `net.core.somaxconn`, 4096 by default): beyond the backlog the kernel
    /// drops new connection attempts, and a client whose SYN was dropped
    /// retries only after its retransmission timeout (1 s, then 3 s), so a
    /// burst of hostile connections larger than tokio's default of 1024
    /// would delay every new client by seconds even though the node evicts
    /// stalled handshakes at once.
    pub backlog: u32,
}

impl Default for TcpListenConfig {
    fn default() -> Self {
        Self { backlog: 4096 }
    }
}

impl TcpIncoming {
    /// Binds a listener to `addr` (port 0 picks a free port; see
    /// [`TcpIncoming::local_addr`]) with the default [`TcpListenConfig`].
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Self::bind_with(addr, TcpListenConfig::default())
    }

    /// Binds a listener to `addr` with `config` (and `SO_REUSEADDR` on
    /// Unix, as tokio's own `TcpListener::bind`). Must be called within a
    /// tokio runtime.
    pub fn bind_with(addr: SocketAddr, config: TcpListenConfig) -> io::Result<Self> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        Ok(Self::from_listener(socket.listen(config.backlog)?))
    }

    /// Accepts from an existing listener.
    pub const fn from_listener(listener: TcpListener) -> Self {
        Self { listener }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl Stream for TcpIncoming {
    type Item = io::Result<(TcpStream, SocketAddr)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.listener.poll_accept(cx) {
            Poll::Ready(Ok((stream, addr))) => {
                let result = stream.set_nodelay(true).map(|()| (stream, addr));
                Poll::Ready(Some(result))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn connector_and_incoming_set_nodelay_on_both_ends() {
        let mut incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = incoming.local_addr().unwrap();
        let client = TcpConnector::new().oneshot(addr).await.unwrap();
        let (server, from) = incoming.next().await.unwrap().unwrap();
        assert!(client.nodelay().unwrap());
        assert!(server.nodelay().unwrap());
        assert_eq!(from, client.local_addr().unwrap());
    }
}
