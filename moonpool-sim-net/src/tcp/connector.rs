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
use crate::net::slab::Key;
use crate::world::{Shared, Wakes};

/// Connects simulated TCP streams: a `tower::Service<SocketAddr>` whose
/// response is a [`SimTcpStream`], hence a `tower::MakeConnection`.
///
/// Connections are made from the host the connector is called in (the host
/// of the task that calls [`tower::Service::call`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SimConnector;

impl SimConnector {
    /// A connector.
    pub fn new() -> Self {
        Self
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
        ConnectFuture::with_context(HostContext::current(), addr)
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
            let started = ctx
                .shared
                .lock()
                .connect(ctx.host, ctx.incarnation, *addr, &mut wakes);
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
