//! `SimTcpListener` and its accept stream.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::SimTcpStream;
use super::addr::{ToSimAddr, resolve_all};
use crate::host::HostContext;
use crate::net::connection::Side;
use crate::net::errors;
use crate::net::options::{SocketOptions, checked_ttl};
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
    /// current host, with the backlog of
    /// [`NetConfig::listen_backlog`](crate::NetConfig::listen_backlog)
    /// (tokio's 1024). Several addresses are tried in turn, as tokio does.
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
        let mut last = None;
        for addr in resolve_all(&ctx, &addr)? {
            let bound = {
                let mut world = ctx.shared.lock();
                let options = SocketOptions::defaults(&world.net.config);
                let backlog = world.net.config.listen_backlog;
                world.bind(ctx.host, ctx.incarnation, addr, options, backlog)
            };
            match bound {
                Ok((key, local)) => return Ok(SimTcpListener::new(ctx.shared, key, local)),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(errors::no_address))
    }

    pub(crate) fn new(shared: Arc<Shared>, key: Key, local: SocketAddr) -> Self {
        Self { shared, key, local }
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

    /// `IP_TTL` of the listener, which the connections it accepts inherit.
    pub fn ttl(&self) -> io::Result<u32> {
        let world = self.shared.lock();
        let listener = world.listeners.get(self.key).ok_or_else(errors::aborted)?;
        Ok(listener.options.ttl)
    }

    /// Sets `IP_TTL` (1 ..= 255, or `u32::MAX` for the default; anything
    /// else is `InvalidInput`, as on Linux). Connections accepted from now on
    /// inherit it.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let mut world = self.shared.lock();
        let ttl = checked_ttl(ttl, world.net.config.default_ttl)
            .ok_or_else(|| errors::invalid_input("TTL must be 1 ..= 255"))?;
        let listener = world
            .listeners
            .get_mut(self.key)
            .ok_or_else(errors::aborted)?;
        listener.options.ttl = ttl;
        Ok(())
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
