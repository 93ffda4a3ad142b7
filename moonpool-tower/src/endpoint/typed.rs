//! Typed endpoints: a `Service<Req, Response = Resp>` behind a token.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use moonpool_codec::{PayloadCodec, ProstCodec, Uid};
use tower::{BoxError, ServiceExt};
use tracing::debug;

use super::{EndpointRouter, IncomingPacket, RouterError};
use crate::actor::ReplyPromise;
use crate::rpc::ApplicationError;
use crate::rpc::envelope::split_request;

/// A [`PacketService`](super::PacketService) that serves typed requests
/// with `S`: it splits the request envelope, decodes the request with the
/// request codec (an undecodable request is answered `BadRequest`), calls
/// `S`, and answers through a [`ReplyPromise`]: the response, or the
/// service's error as an [`ApplicationError`]. If the response future is
/// dropped before it finishes, the promise answers `BrokenPromise`.
///
/// Readiness: the endpoint itself is always ready. Each request's promise
/// is made first, then the request waits for `S`'s readiness inside its
/// own future (on its own clone of `S`, tower's usual pattern), so a
/// request is answered even if that future is dropped while it waits.
///
/// A tower service that failed `poll_ready` is finished and must not be
/// called again. So if `S` fails `poll_ready`, that request is answered
/// with the error, and so is every request that arrives afterwards,
/// without touching `S` again: the failure is kept in state shared by
/// every clone of the endpoint (the router clones it for each request).
/// Requests that had already started waiting on other clones of `S` learn
/// of it from their own clone.
pub struct TypedEndpoint<S, Req, Resp, QC = ProstCodec<Req>, RC = ProstCodec<Resp>> {
    service: S,
    request_codec: QC,
    response_codec: RC,
    /// The error `S` failed `poll_ready` with; shared by every clone.
    failed: Arc<OnceLock<ApplicationError>>,
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<S, Req, Resp, QC, RC> TypedEndpoint<S, Req, Resp, QC, RC> {
    /// Serves `service`, decoding requests with `request_codec` and
    /// encoding responses with `response_codec`.
    pub fn new(service: S, request_codec: QC, response_codec: RC) -> Self {
        Self {
            service,
            request_codec,
            response_codec,
            failed: Arc::new(OnceLock::new()),
            _types: PhantomData,
        }
    }
}

impl<S: Clone, Req, Resp, QC: Clone, RC: Clone> Clone for TypedEndpoint<S, Req, Resp, QC, RC> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            request_codec: self.request_codec.clone(),
            response_codec: self.response_codec.clone(),
            failed: Arc::clone(&self.failed),
            _types: PhantomData,
        }
    }
}

impl<S, Req, Resp, QC, RC> fmt::Debug for TypedEndpoint<S, Req, Resp, QC, RC> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedEndpoint")
            .field("request", &std::any::type_name::<Req>())
            .field("response", &std::any::type_name::<Resp>())
            .finish_non_exhaustive()
    }
}

impl<S, Req, Resp, QC, RC> tower::Service<IncomingPacket> for TypedEndpoint<S, Req, Resp, QC, RC>
where
    S: tower::Service<Req, Response = Resp> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    QC: PayloadCodec<Req>,
    RC: PayloadCodec<Resp>,
    Req: Send + 'static,
    Resp: Send + 'static,
{
    type Response = ();
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<(), Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // `S`'s readiness is awaited in each request's future, once the
        // request's promise exists.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: IncomingPacket) -> Self::Future {
        let token = incoming.packet.token;
        let Some((reply_token, body)) = split_request(incoming.packet.payload) else {
            debug!(%token, "request shorter than its reply token dropped");
            return Box::pin(std::future::ready(Ok(())));
        };
        let promise = ReplyPromise::new(reply_token, incoming.reply, self.response_codec.clone());
        let request = match self.request_codec.decode(body) {
            Ok(request) => request,
            Err(error) => {
                debug!(%token, %error, "undecodable request");
                promise.send_bad_request(error.to_string());
                return Box::pin(std::future::ready(Ok(())));
            }
        };
        if let Some(error) = self.failed.get() {
            promise.send_error(error.clone());
            return Box::pin(std::future::ready(Ok(())));
        }
        // Tower's pattern: the request takes the clone `self` may have
        // driven towards readiness, `self` keeps a fresh one.
        let fresh = self.service.clone();
        let service = std::mem::replace(&mut self.service, fresh);
        let failed = Arc::clone(&self.failed);
        Box::pin(async move {
            let response = match service.ready_oneshot().await {
                Ok(mut service) => service.call(request),
                Err(error) => {
                    let error = ApplicationError::from_service_error(error.into());
                    let error = failed.get_or_init(|| error).clone();
                    debug!(%token, %error, "endpoint service failed poll_ready; answering every later request with its error");
                    promise.send_error(error);
                    return Ok(());
                }
            };
            match response.await {
                Ok(response) => promise.send(response),
                Err(error) => {
                    promise.send_error(ApplicationError::from_service_error(error.into()))
                }
            }
            Ok(())
        })
    }
}

impl EndpointRouter {
    /// Serves `service` at `token`, with protobuf (`prost`) requests and
    /// responses. See [`EndpointRouter::register`] for which tokens are
    /// accepted and [`TypedEndpoint`] for what is answered.
    ///
    /// The service is cloned for each request (wrap a service that is not
    /// `Clone` in tower's `Buffer`); a request waits for the readiness of
    /// its own clone.
    pub fn serve<S, Req, Resp>(&self, token: Uid, service: S) -> Result<(), RouterError>
    where
        S: tower::Service<Req, Response = Resp> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + Default + Send + 'static,
    {
        self.serve_with(token, service, ProstCodec::new(), ProstCodec::new())
    }

    /// Serves `service` at `token` with the given payload codecs.
    pub fn serve_with<S, Req, Resp, QC, RC>(
        &self,
        token: Uid,
        service: S,
        request_codec: QC,
        response_codec: RC,
    ) -> Result<(), RouterError>
    where
        S: tower::Service<Req, Response = Resp> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        QC: PayloadCodec<Req>,
        RC: PayloadCodec<Resp>,
        Req: Send + 'static,
        Resp: Send + 'static,
    {
        self.register(
            token,
            TypedEndpoint::new(service, request_codec, response_codec),
        )
    }
}
