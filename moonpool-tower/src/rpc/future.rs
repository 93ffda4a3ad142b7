//! The response future of an RPC, and the pending call it owns.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use moonpool_codec::{Endpoint, PayloadCodec, Uid};
use tokio::sync::oneshot;

use super::RpcError;
use super::envelope::Reply;
use crate::endpoint::{Resolution, RouterShared};
use crate::peer::ReliableHandle;

/// One call waiting for its reply. Dropping it ends the call for good: the
/// reply token is forgotten and a reliable request stops being resent.
pub(crate) struct PendingCall {
    router: Weak<RouterShared>,
    reply_token: Uid,
    target: Endpoint,
    handle: Option<ReliableHandle>,
}

impl PendingCall {
    pub(crate) const fn new(
        router: Weak<RouterShared>,
        reply_token: Uid,
        target: Endpoint,
    ) -> Self {
        Self {
            router,
            reply_token,
            target,
            handle: None,
        }
    }

    pub(crate) fn set_handle(&mut self, handle: Option<ReliableHandle>) {
        self.handle = handle;
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.cancel();
        }
        if let Some(router) = self.router.upgrade() {
            router.close_pending(self.reply_token);
        }
    }
}

type FailureFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The future of one [`RpcClient`](super::RpcClient) call: resolves exactly
/// once with the response or an [`RpcError`]. Dropping it cancels the call.
pub struct ResponseFuture<Resp, RC> {
    state: State<RC>,
    _type: PhantomData<fn() -> Resp>,
}

// No field is structurally pinned: the receiver is `Unpin` and the failure
// future is boxed.
impl<Resp, RC> Unpin for ResponseFuture<Resp, RC> {}

enum State<RC> {
    Failed(Option<RpcError>),
    Waiting {
        receiver: oneshot::Receiver<Resolution>,
        /// Resolves when the request may have been lost for good.
        failure: Option<FailureFuture>,
        call: PendingCall,
        codec: RC,
    },
}

impl<Resp, RC> ResponseFuture<Resp, RC> {
    pub(crate) const fn failed(error: RpcError) -> Self {
        Self {
            state: State::Failed(Some(error)),
            _type: PhantomData,
        }
    }

    pub(crate) const fn waiting(
        receiver: oneshot::Receiver<Resolution>,
        failure: Option<FailureFuture>,
        call: PendingCall,
        codec: RC,
    ) -> Self {
        Self {
            state: State::Waiting {
                receiver,
                failure,
                call,
                codec,
            },
            _type: PhantomData,
        }
    }
}

impl<Resp, RC: PayloadCodec<Resp>> Future for ResponseFuture<Resp, RC> {
    type Output = Result<Resp, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = match &mut this.state {
            // Polled after completion: never resolves a second time.
            State::Failed(error) => {
                return error.take().map_or(Poll::Pending, |e| Poll::Ready(Err(e)));
            }
            State::Waiting {
                receiver,
                failure,
                call,
                codec,
            } => {
                let endpoint = call.target;
                match Pin::new(receiver).poll(cx) {
                    Poll::Ready(Ok(Resolution::Reply(payload))) => decode(payload, codec, endpoint),
                    Poll::Ready(Ok(Resolution::EndpointNotFound)) => {
                        Err(RpcError::EndpointNotFound { endpoint })
                    }
                    // The router is gone (its node shut down).
                    Poll::Ready(Err(_)) => Err(RpcError::MaybeDelivered { endpoint }),
                    Poll::Pending => match failure.as_mut().map(|f| f.as_mut().poll(cx)) {
                        Some(Poll::Ready(())) => Err(RpcError::MaybeDelivered { endpoint }),
                        _ => return Poll::Pending,
                    },
                }
            }
        };
        // Drops the pending call: forgets the token, stops resending.
        this.state = State::Failed(None);
        Poll::Ready(result)
    }
}

fn decode<Resp, RC: PayloadCodec<Resp>>(
    payload: bytes::Bytes,
    codec: &RC,
    endpoint: Endpoint,
) -> Result<Resp, RpcError> {
    match Reply::decode(payload) {
        Ok(Reply::Ok(body)) => codec
            .decode(body)
            .map_err(|source| RpcError::Decode { endpoint, source }),
        Ok(Reply::Error(error)) => Err(RpcError::Application(error)),
        Ok(Reply::BrokenPromise) => Err(RpcError::BrokenPromise { endpoint }),
        Ok(Reply::BadRequest(message)) => Err(RpcError::BadRequest { endpoint, message }),
        Err(reason) => Err(RpcError::MalformedReply { endpoint, reason }),
    }
}

impl<Resp, RC> fmt::Debug for ResponseFuture<Resp, RC> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Failed(_) => "done",
            State::Waiting { .. } => "waiting",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
