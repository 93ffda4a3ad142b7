//! `SimTcpListenerStream`: a listener as a stream of plain accepted streams.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{SimTcpListener, SimTcpStream};

/// A [`SimTcpListener`] as a `Stream<Item = io::Result<SimTcpStream>>`, the
/// simulated twin of tokio-stream's `TcpListenerStream`: the shape servers
/// such as tonic's `serve_with_incoming` take. Use
/// [`SimIncoming`](super::SimIncoming) when you also want each peer's
/// address beside its stream.
///
/// It never ends; an accept error (the host crashed) is yielded as an item.
#[derive(Debug)]
pub struct SimTcpListenerStream {
    listener: SimTcpListener,
}

impl SimTcpListenerStream {
    /// Accepts from `listener`.
    pub fn new(listener: SimTcpListener) -> Self {
        Self { listener }
    }

    /// The listener back.
    pub fn into_inner(self) -> SimTcpListener {
        self.listener
    }
}

impl AsRef<SimTcpListener> for SimTcpListenerStream {
    fn as_ref(&self) -> &SimTcpListener {
        &self.listener
    }
}

impl From<SimTcpListener> for SimTcpListenerStream {
    fn from(listener: SimTcpListener) -> Self {
        Self::new(listener)
    }
}

impl Stream for SimTcpListenerStream {
    type Item = io::Result<SimTcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(stream, _peer)| stream)))
    }
}
