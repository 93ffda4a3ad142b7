//! The network seams: how a peer connects and how a node accepts.
//!
//! moonpool never opens a socket itself. A peer connects through any
//! [`tower::MakeConnection<SocketAddr>`](tower::make::MakeConnection) (a
//! `Service<SocketAddr>` whose response is `AsyncRead + AsyncWrite`), and a
//! node accepts from any `Stream<Item = io::Result<(IO, SocketAddr)>>`.
//! [`TcpConnector`] and [`TcpIncoming`] are the real-TCP implementations;
//! the simulator provides others, a TLS connector would wrap one.

mod boxed;
mod tcp;

pub(crate) use boxed::{BoxConnector, BoxIncoming, BoxIo, box_connector, box_incoming};
pub use tcp::{TcpConnector, TcpIncoming, TcpListenConfig};
