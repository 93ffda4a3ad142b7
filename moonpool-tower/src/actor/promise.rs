//! The server's side of one request: a promise to answer it.

use std::fmt;
use std::marker::PhantomData;

use moonpool_codec::{Packet, PayloadCodec, ProstCodec, Uid};
use tracing::{trace, warn};

use crate::endpoint::ReplyPath;
use crate::rpc::ApplicationError;
use crate::rpc::envelope::Reply;

/// A promise to answer one request, as FoundationDB's `ReplyPromise`.
///
/// It is fulfilled at most once: [`send`](Self::send) answers with a
/// response, [`send_error`](Self::send_error) with an application error;
/// both consume it. **Dropping it unfulfilled answers `BrokenPromise`**, so
/// a caller learns that the server gave up on the request instead of
/// waiting for a reply that will never come.
///
/// The reply goes back unreliably along the request's [`ReplyPath`]: if
/// the connection has failed meanwhile, the caller learns it from its own
/// side (`MaybeDelivered`, or a resend of a reliable request).
pub struct ReplyPromise<Resp, C = ProstCodec<Resp>> {
    reply_token: Uid,
    path: Option<ReplyPath>,
    codec: C,
    _type: PhantomData<fn(Resp)>,
}

impl<Resp, C: PayloadCodec<Resp>> ReplyPromise<Resp, C> {
    /// A promise to answer at `reply_token` along `path`, encoding the
    /// response with `codec`.
    pub fn new(reply_token: Uid, path: ReplyPath, codec: C) -> Self {
        Self {
            reply_token,
            path: Some(path),
            codec,
            _type: PhantomData,
        }
    }

    /// Answers with `response`. If the response cannot be encoded, the
    /// caller gets an application error with code
    /// [`ApplicationError::UNSPECIFIED`] saying so (and a warning is
    /// logged).
    pub fn send(mut self, response: Resp) {
        let payload = match Reply::encode_ok(&self.codec, &response) {
            Ok(payload) => payload,
            Err(error) => {
                warn!(token = %self.reply_token, %error, "response does not encode");
                Reply::Error(ApplicationError::new(
                    ApplicationError::UNSPECIFIED,
                    format!("response does not encode: {error}"),
                ))
                .encode()
            }
        };
        self.fulfil(payload);
    }

    /// Answers with an application error.
    pub fn send_error(mut self, error: ApplicationError) {
        self.fulfil(Reply::Error(error).encode());
    }

    /// Answers that the request could not be decoded.
    pub(crate) fn send_bad_request(mut self, message: String) {
        self.fulfil(Reply::BadRequest(message).encode());
    }
}

impl<Resp, C> ReplyPromise<Resp, C> {
    /// The token the reply is sent to (the caller's pending call).
    pub const fn reply_token(&self) -> Uid {
        self.reply_token
    }

    /// The way back to the caller.
    pub fn reply_path(&self) -> Option<&ReplyPath> {
        self.path.as_ref()
    }

    fn fulfil(&mut self, payload: bytes::Bytes) {
        if let Some(path) = self.path.take() {
            trace!(token = %self.reply_token, "reply sent");
            path.send_owned(Packet::new(self.reply_token, payload));
        }
    }
}

impl<Resp, C> Drop for ReplyPromise<Resp, C> {
    fn drop(&mut self) {
        if self.path.is_some() {
            trace!(token = %self.reply_token, "promise dropped unfulfilled: BrokenPromise");
            self.fulfil(Reply::BrokenPromise.encode());
        }
    }
}

impl<Resp, C> fmt::Debug for ReplyPromise<Resp, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyPromise")
            .field("reply_token", &self.reply_token)
            .field("fulfilled", &self.path.is_none())
            .finish_non_exhaustive()
    }
}
