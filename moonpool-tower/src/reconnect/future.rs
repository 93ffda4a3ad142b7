//! The response future of [`Reconnect`](super::Reconnect).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;
use tower::BoxError;

use super::NotConnected;

/// Resolves to the connected service's response, its error boxed into a
/// [`BoxError`], or [`NotConnected`] if `call` was made without readiness.
#[pin_project]
#[derive(Debug)]
pub struct ResponseFuture<F> {
    #[pin]
    inner: Inner<F>,
}

#[pin_project(project = InnerProj)]
#[derive(Debug)]
enum Inner<F> {
    Called {
        #[pin]
        future: F,
    },
    NotConnected,
}

impl<F> ResponseFuture<F> {
    pub(super) fn called(future: F) -> Self {
        Self {
            inner: Inner::Called { future },
        }
    }

    pub(super) fn not_connected() -> Self {
        Self {
            inner: Inner::NotConnected,
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Called { future } => future.poll(cx).map_err(Into::into),
            InnerProj::NotConnected => Poll::Ready(Err(NotConnected.into())),
        }
    }
}
