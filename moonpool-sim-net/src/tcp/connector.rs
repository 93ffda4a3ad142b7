//! `SimConnector` (a `tower::MakeConnection<SocketAddr>`) and the future of
//! a connect in progress.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::SimTcpStream;
use crate::host::HostContext;
use crate::net::connection::Side;
use crate::net::errors;
use crate::net::options::SocketOptions;
use crate::net::slab::Key;
use crate::world::{Shared, Wakes};

/// Connects simulated TCP streams: a `tower::Service<SocketAddr>` whose
/// response is a [`SimTcpStream`], hence a `tower::MakeConnection`.
///
/// A connector made inside a host ([`SimConnector::new`] or
/// [`HostHandle::connector`](crate::HostHandle::connector)) connects from
/// that host whichever task calls it (a tower `Buffer` worker, say). One made
/// outside any host connects from the host of the task that calls it.
#[derive(Clone, Default)]
pub struct SimConnector {
    host: Option<HostContext>,
}

impl SimConnector {
    /// A connector for the current host (or, outside any host, for the host
    /// of whichever task calls it).
    pub fn new() -> Self {
        Self {
            host: HostContext::current(),
        }
    }

    pub(crate) fn for_host(host: HostContext) -> Self {
        Self { host: Some(host) }
    }

    /// The host this connector connects from: its own, or else the calling
    /// task's.
    pub(crate) fn host_context(&self) -> Option<HostContext> {
        self.host.clone().or_else(HostContext::current)
    }
}

impl std::fmt::Debug for SimConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self.host.as_ref().map(|ctx| (ctx.host, ctx.incarnation));
        f.debug_struct("SimConnector").field("host", &host).finish()
    }
}

impl tower::Service<SocketAddr> for SimConnector {
    type Response = SimTcpStream;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, addr: SocketAddr) -> ConnectFuture {
        ConnectFuture::with_context(self.host_context(), addr)
    }
}

/// A connect in progress; resolves to the stream or the connect error.
/// Dropping it abandons the connection attempt.
#[must_use = "futures do nothing unless polled"]
pub struct ConnectFuture {
    state: State,
}

enum State {
    Start {
        ctx: Option<HostContext>,
        addr: SocketAddr,
    },
    Waiting {
        shared: Arc<Shared>,
        conn: Key,
    },
    Done,
}

impl ConnectFuture {
    /// Waits for the handshake of a connection already started.
    pub(crate) fn started(shared: Arc<Shared>, conn: Key) -> Self {
        Self {
            state: State::Waiting { shared, conn },
        }
    }

    /// Connects from `ctx`'s host, or from the host the future is first
    /// polled in.
    pub(crate) fn with_context(ctx: Option<HostContext>, addr: SocketAddr) -> Self {
        Self {
            state: State::Start { ctx, addr },
        }
    }
}

impl Future for ConnectFuture {
    type Output = io::Result<SimTcpStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let State::Start { ctx, addr } = &mut self.state {
            let Some(ctx) = ctx.take().or_else(HostContext::current) else {
                self.state = State::Done;
                return Poll::Ready(Err(errors::outside_host()));
            };
            let mut wakes = Wakes::default();
            let started = {
                let mut world = ctx.shared.lock();
                let options = SocketOptions::defaults(&world.net.config);
                world.connect(ctx.host, ctx.incarnation, *addr, None, options, &mut wakes)
            };
            wakes.finish(&ctx.shared);
            match started {
                Ok(conn) => {
                    self.state = State::Waiting {
                        shared: ctx.shared,
                        conn,
                    }
                }
                Err(error) => {
                    self.state = State::Done;
                    return Poll::Ready(Err(error));
                }
            }
        }
        let State::Waiting { shared, conn } = &self.state else {
            return Poll::Ready(Err(errors::aborted()));
        };
        let (shared, conn) = (shared.clone(), *conn);
        match shared.lock().poll_connect(conn, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                self.state = State::Done;
                Poll::Ready(result.map(|(local, peer)| {
                    SimTcpStream::new(shared.clone(), conn, Side::Client, local, peer)
                }))
            }
        }
    }
}

impl Drop for ConnectFuture {
    fn drop(&mut self) {
        if let State::Waiting { shared, conn } = &self.state {
            let mut wakes = Wakes::default();
            shared.lock().close(*conn, Side::Client, &mut wakes);
            wakes.finish(shared);
        }
    }
}

impl std::fmt::Debug for ConnectFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Start { addr, .. } => format!("starting {addr}"),
            State::Waiting { .. } => "waiting for the handshake".to_owned(),
            State::Done => "done".to_owned(),
        };
        f.debug_struct("ConnectFuture")
            .field("state", &state)
            .finish()
    }
}
