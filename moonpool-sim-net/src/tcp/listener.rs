//! `SimTcpListener` and its accept stream.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::SimTcpStream;
use super::addr::{ToSimAddr, resolve};
use crate::host::HostContext;
use crate::net::connection::Side;
use crate::net::errors;
use crate::net::slab::Key;
use crate::world::{Shared, Wakes};

/// A listening socket of the current host; use it like
/// `tokio::net::TcpListener`.
///
/// Dropping it frees the port and refuses new connections; connections it
/// already accepted live on, and connections queued but never accepted are
/// reset.
pub struct SimTcpListener {
    shared: Arc<Shared>,
    key: Key,
    local: SocketAddr,
}

impl SimTcpListener {
    /// Listens on `addr` (see [`ToSimAddr`]: `"0.0.0.0:7000"` works) on the
    /// current host.
    ///
    /// The address is `0.0.0.0` (every address of the host), the host's own
    /// address, or `127.0.0.1`. Port 0 picks a free ephemeral port (see
    /// [`NetConfig::ephemeral_ports`](crate::NetConfig::ephemeral_ports)).
    /// Fails with `AddrInUse` if the port already has a listener on this
    /// host, `AddrNotAvailable` for an address of another host, `Unsupported`
    /// outside a simulated host.
    pub async fn bind<A: ToSimAddr>(addr: A) -> io::Result<SimTcpListener> {
        let Some(ctx) = HostContext::current() else {
            return Err(errors::outside_host());
        };
        let addr = resolve(&ctx, &addr)?;
        let (key, local) = ctx.shared.lock().bind(ctx.host, ctx.incarnation, addr)?;
        Ok(SimTcpListener {
            shared: ctx.shared,
            key,
            local,
        })
    }

    /// Waits for the next connection: the stream and the peer's address.
    ///
    /// Several tasks may accept on one listener at once (as with tokio's
    /// `accept(&self)`): every one is woken when a connection arrives, and
    /// each connection goes to exactly one of them.
    pub async fn accept(&self) -> io::Result<(SimTcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection (the building block of `accept`).
    pub fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(SimTcpStream, SocketAddr)>> {
        match self.shared.lock().poll_accept(self.key, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok((conn, local, peer))) => {
                let stream =
                    SimTcpStream::new(self.shared.clone(), conn, Side::Server, local, peer);
                Poll::Ready(Ok((stream, peer)))
            }
        }
    }

    /// The bound address, with the port resolved if 0 was asked for.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The listener as a `Stream` of accepted connections.
    pub fn into_stream(self) -> SimIncoming {
        SimIncoming { listener: self }
    }
}

impl Drop for SimTcpListener {
    fn drop(&mut self) {
        let mut wakes = Wakes::default();
        self.shared.lock().close_listener(self.key, &mut wakes);
        wakes.finish(&self.shared);
    }
}

impl fmt::Debug for SimTcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTcpListener")
            .field("local", &self.local)
            .finish()
    }
}

/// A [`SimTcpListener`] as a
/// `Stream<Item = io::Result<(SimTcpStream, SocketAddr)>>`: the accept seam
/// other crates take without depending on the simulator. It never ends; an
/// accept error (the host crashed) is yielded as an item.
#[derive(Debug)]
pub struct SimIncoming {
    listener: SimTcpListener,
}

impl SimIncoming {
    /// The listener back.
    pub fn into_inner(self) -> SimTcpListener {
        self.listener
    }

    /// The listener.
    pub fn get_ref(&self) -> &SimTcpListener {
        &self.listener
    }
}

impl Stream for SimIncoming {
    type Item = io::Result<(SimTcpStream, SocketAddr)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(Some)
    }
}
