//! Type erasure for the network seams, so generics stop at the builder.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use futures_core::Stream;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceExt};

/// Anything a connection can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connection of any type.
pub(crate) type BoxIo = Box<dyn Io>;

/// A connector of any type.
pub(crate) type BoxConnector = BoxCloneService<SocketAddr, BoxIo, BoxError>;

/// Accepted connections of any type.
pub(crate) type BoxIncoming = Pin<Box<dyn Stream<Item = io::Result<(BoxIo, SocketAddr)>> + Send>>;

/// Erases a connector's type (any `tower::MakeConnection<SocketAddr>`).
pub(crate) fn box_connector<C>(connector: C) -> BoxConnector
where
    C: tower::Service<SocketAddr> + Clone + Send + 'static,
    C::Response: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    BoxCloneService::new(
        connector
            .map_response(|io| Box::new(io) as BoxIo)
            .map_err(Into::into),
    )
}

/// Erases an accept stream's type.
pub(crate) fn box_incoming<S, IO>(incoming: S) -> BoxIncoming
where
    S: Stream<Item = io::Result<(IO, SocketAddr)>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    Box::pin(incoming.map(|item| item.map(|(io, addr)| (Box::new(io) as BoxIo, addr))))
}
