//! How an RPC can end other than with its response.

use moonpool_codec::{Endpoint, PayloadError};

use crate::peer::PeerError;

/// An error an application returns instead of a response: a numeric code
/// and a message, both carried to the caller on the wire.
///
/// A server answers with one through
/// [`ReplyPromise::send_error`](crate::actor::ReplyPromise::send_error), or
/// by returning an error from a tower service registered with the router
/// (an `ApplicationError` is sent as is; any other error is sent with code
/// [`ApplicationError::UNSPECIFIED`] and its `Display` text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("application error {code}: {message}")]
pub struct ApplicationError {
    /// The application's error code.
    pub code: u32,
    /// A human-readable description.
    pub message: String,
}

impl ApplicationError {
    /// The code of an error that carries no code of its own (a service
    /// error that is not an `ApplicationError`).
    pub const UNSPECIFIED: u32 = 0;

    /// An error with `code` and `message`.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The error a service's error becomes on the wire: itself if it is an
    /// `ApplicationError`, else [`UNSPECIFIED`](Self::UNSPECIFIED) with the
    /// error's `Display` text.
    pub fn from_service_error(error: tower::BoxError) -> Self {
        match error.downcast::<Self>() {
            Ok(application) => *application,
            Err(other) => Self::new(Self::UNSPECIFIED, other.to_string()),
        }
    }
}

/// How an RPC ended without a response. Every call resolves exactly once:
/// with its response or with one of these.
///
/// Which errors are safe to retry is decided by
/// [`RpcError::is_retry_safe`] (never executed) and
/// [`RpcError::maybe_executed`] (executed at most once, possibly not at all).
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The server answered with an application error.
    #[error(transparent)]
    Application(#[from] ApplicationError),
    /// The server dropped the request without answering it (its
    /// `ReplyPromise` was dropped unfulfilled). The request may have been
    /// partly executed.
    #[error("broken promise: {endpoint} dropped the request without answering")]
    BrokenPromise {
        /// The endpoint the request was sent to.
        endpoint: Endpoint,
    },
    /// Nothing is registered at the endpoint's token on its node, or the
    /// token is one of moonpool's reserved well-known tokens (index below
    /// [`WellKnownToken::RESERVED`](moonpool_codec::WellKnownToken::RESERVED)),
    /// which serve no requests: such a call fails at once, unsent. The
    /// request was not executed.
    #[error("endpoint not found: {endpoint}")]
    EndpointNotFound {
        /// The endpoint the request was sent to.
        endpoint: Endpoint,
    },
    /// The connection the request went out on failed before a reply came
    /// (an unreliable request), or the peer was shut down (any request):
    /// the request may or may not have been executed, and no reply will
    /// come.
    #[error("request to {endpoint} may have been delivered: the connection failed")]
    MaybeDelivered {
        /// The endpoint the request was sent to.
        endpoint: Endpoint,
    },
    /// The server could not decode the request (the two sides disagree on
    /// the request type). The request was not executed.
    #[error("{endpoint} could not decode the request: {message}")]
    BadRequest {
        /// The endpoint the request was sent to.
        endpoint: Endpoint,
        /// The server's description of the decode failure.
        message: String,
    },
    /// The reply's payload does not decode as the response type.
    #[error("reply from {endpoint} does not decode: {source}")]
    Decode {
        /// The endpoint the request was sent to.
        endpoint: Endpoint,
        /// The payload codec's error.
        #[source]
        source: PayloadError,
    },
    /// The reply envelope is malformed (see `docs/wire-format.md`,
    /// "RPC envelope").
    #[error("malformed reply from {endpoint}: {reason}")]
    MalformedReply {
        /// The endpoint the request was sent to.
        endpoint: Endpoint,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The request could not be encoded; nothing was sent.
    #[error("request does not encode: {0}")]
    Encode(#[source] PayloadError),
    /// The peer refused the packet (closed, or the packet is too large);
    /// nothing was sent.
    #[error("request not sent: {0}")]
    NotSent(#[source] PeerError),
}

impl RpcError {
    /// Whether the request certainly was not executed, so that sending it
    /// again cannot execute it twice: [`EndpointNotFound`](Self::EndpointNotFound)
    /// (the endpoint may be registered by the time of a retry, as after a
    /// server restart), [`BadRequest`](Self::BadRequest),
    /// [`Encode`](Self::Encode) and [`NotSent`](Self::NotSent). Whether a
    /// retry can *succeed* is another matter: a policy retries only
    /// `EndpointNotFound` among these.
    pub const fn is_retry_safe(&self) -> bool {
        matches!(
            self,
            Self::EndpointNotFound { .. }
                | Self::BadRequest { .. }
                | Self::Encode(_)
                | Self::NotSent(_)
        )
    }

    /// Whether the request may have been executed without its reply
    /// reaching the caller: [`MaybeDelivered`](Self::MaybeDelivered) and
    /// [`BrokenPromise`](Self::BrokenPromise). Retrying these is safe only
    /// for idempotent requests.
    pub const fn maybe_executed(&self) -> bool {
        matches!(
            self,
            Self::MaybeDelivered { .. } | Self::BrokenPromise { .. }
        )
    }

    /// The endpoint the failed request was sent to, when it was sent.
    pub const fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Self::BrokenPromise { endpoint }
            | Self::EndpointNotFound { endpoint }
            | Self::MaybeDelivered { endpoint }
            | Self::BadRequest { endpoint, .. }
            | Self::Decode { endpoint, .. }
            | Self::MalformedReply { endpoint, .. } => Some(endpoint),
            Self::Application(_) | Self::Encode(_) | Self::NotSent(_) => None,
        }
    }
}
