//! The one error [`Reconnect`](super::Reconnect) itself produces.

/// [`Reconnect::call`](tower::Service::call) was invoked without a preceding
/// `Poll::Ready(Ok(()))` from `poll_ready` (tower's contract), so there was no
/// connected service ready to take the request. The request was dropped
/// without being sent.
///
/// Reaches the caller boxed in a [`tower::BoxError`]; recover it with
/// `error.downcast_ref::<NotConnected>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, thiserror::Error)]
#[error("reconnect: call without a ready connection (poll_ready must return Ready(Ok) first)")]
pub struct NotConnected;
