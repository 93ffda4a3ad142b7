//! `SimHttpConnector`: a `tower::Service<Uri>` that connects simulated TCP
//! for hyper and tonic.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;

use crate::host::HostHandle;
use crate::tcp::{ConnectFuture, SimConnector, SimTcpStream, ToSimAddr};

/// The port a URI without one connects to: 443 for `https`, 80 otherwise
/// (gRPC's `http://` included), as hyper-util's `HttpConnector` does.
const HTTP_PORT: u16 = 80;
const HTTPS_PORT: u16 = 443;

/// Connects to the host a URI names, over simulated TCP: a
/// `tower::Service<Uri>` answering `TokioIo<SimTcpStream>` (hyper's
/// `rt::Read + rt::Write`), the connector hyper-util's legacy `Client` and
/// tonic's `Endpoint::connect_with_connector` take.
///
/// The URI's host is a simulated host name (`http://server:50051`), an IPv4
/// address, or `localhost`; its port defaults to 80 (443 for `https`). No
/// TLS is done: an `https` URI connects in plain TCP to port 443, so wrap
/// this connector in a TLS connector to speak TLS.
///
/// Like [`SimConnector`], one made inside a host (or with
/// [`SimHttpConnector::for_host`]) connects from that host whichever task
/// calls it (tonic's channel worker, say); one made outside any host
/// connects from the host of the calling task.
#[derive(Clone, Debug, Default)]
pub struct SimHttpConnector {
    tcp: SimConnector,
}

impl SimHttpConnector {
    /// A connector for the current host (or, outside any host, for the host
    /// of whichever task calls it).
    pub fn new() -> Self {
        Self {
            tcp: SimConnector::new(),
        }
    }

    /// A connector that connects from `host`, whichever task calls it.
    pub fn for_host(host: &HostHandle) -> Self {
        Self {
            tcp: host.connector(),
        }
    }
}

impl From<SimConnector> for SimHttpConnector {
    fn from(tcp: SimConnector) -> Self {
        Self { tcp }
    }
}

/// Why [`SimHttpConnector`] could not connect.
#[derive(Debug, thiserror::Error)]
pub enum HttpConnectError {
    /// The URI names no host (a relative URI such as `/path`).
    #[error("the URI {uri} names no host to connect to")]
    MissingHost {
        /// The URI asked for.
        uri: Uri,
    },
    /// The host is neither an IPv4 address, `localhost`, nor the name of a
    /// simulated host.
    #[error("cannot resolve {host:?} in the simulation")]
    Resolve {
        /// The host part of the URI.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// The simulated TCP connect failed (refused, timed out, host down, or
    /// called outside any host).
    #[error("connecting to {addr} failed")]
    Connect {
        /// The address resolved from the URI.
        addr: SocketAddr,
        /// The TCP error.
        #[source]
        source: io::Error,
    },
}

impl HttpConnectError {
    /// The underlying `io::ErrorKind`, for retry decisions; `InvalidInput`
    /// for a URI without a host.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            HttpConnectError::MissingHost { .. } => io::ErrorKind::InvalidInput,
            HttpConnectError::Resolve { source, .. } | HttpConnectError::Connect { source, .. } => {
                source.kind()
            }
        }
    }
}

impl tower::Service<Uri> for SimHttpConnector {
    type Response = TokioIo<SimTcpStream>;
    type Error = HttpConnectError;
    type Future = HttpConnecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), HttpConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> HttpConnecting {
        let state = match resolve(&self.tcp, &uri) {
            Ok(addr) => State::Connecting {
                addr,
                future: ConnectFuture::with_context(self.tcp.host_context(), addr),
            },
            Err(error) => State::Failed(Some(error)),
        };
        HttpConnecting { state }
    }
}

/// The socket address `uri` names, host names resolved through the host
/// table of the connector's host.
fn resolve(tcp: &SimConnector, uri: &Uri) -> Result<SocketAddr, HttpConnectError> {
    let Some(host) = uri.host() else {
        return Err(HttpConnectError::MissingHost { uri: uri.clone() });
    };
    let default_port = if uri.scheme_str() == Some("https") {
        HTTPS_PORT
    } else {
        HTTP_PORT
    };
    let port = uri.port_u16().unwrap_or(default_port);
    // An IPv6 literal keeps its brackets in `Uri::host`.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let resolved = match tcp.host_context() {
        Some(ctx) => {
            let world = ctx.shared.lock();
            (host, port).to_sim_addr(&|name| world.hosts.lookup(name))
        }
        None => (host, port).to_sim_addr(&|_| None),
    };
    resolved.map_err(|source| HttpConnectError::Resolve {
        host: host.to_owned(),
        source,
    })
}

/// A connect of [`SimHttpConnector`] in progress. Dropping it abandons the
/// attempt.
#[must_use = "futures do nothing unless polled"]
pub struct HttpConnecting {
    state: State,
}

enum State {
    Failed(Option<HttpConnectError>),
    Connecting {
        addr: SocketAddr,
        future: ConnectFuture,
    },
}

impl Future for HttpConnecting {
    type Output = Result<TokioIo<SimTcpStream>, HttpConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Failed(error) => Poll::Ready(Err(error.take().unwrap_or_else(|| {
                HttpConnectError::Resolve {
                    host: String::new(),
                    source: io::Error::other("HttpConnecting polled after completion"),
                }
            }))),
            State::Connecting { addr, future } => match Pin::new(future).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(stream)) => Poll::Ready(Ok(TokioIo::new(stream))),
                Poll::Ready(Err(source)) => Poll::Ready(Err(HttpConnectError::Connect {
                    addr: *addr,
                    source,
                })),
            },
        }
    }
}

impl fmt::Debug for HttpConnecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Failed(error) => f
                .debug_tuple("HttpConnecting::Failed")
                .field(error)
                .finish(),
            State::Connecting { addr, .. } => f
                .debug_struct("HttpConnecting")
                .field("addr", addr)
                .finish(),
        }
    }
}

/// What hyper-util's legacy `Client` asks of a connection: a plain,
/// non-proxied HTTP/1 or HTTP/2-prior-knowledge connection.
impl Connection for SimTcpStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}
