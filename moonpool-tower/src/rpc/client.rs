//! The typed RPC client: a `tower::Service` for one remote endpoint.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use moonpool_codec::{Endpoint, Packet, PayloadCodec, ProstCodec};
use tower::ServiceExt;

use super::RpcError;
use super::envelope::encode_request;
use super::future::{PendingCall, ResponseFuture};
use crate::endpoint::{EndpointRouter, is_reserved};
use crate::peer::{Delivery, Outgoing, Peer, PeerState};
use crate::transport::Transport;

/// A typed client of one endpoint: a cheaply `Clone`
/// `tower::Service<Req, Response = Resp, Error = RpcError>`.
///
/// Each call allocates a reply token in the node's
/// [`EndpointRouter`], sends `[reply token][request]` to the endpoint, and
/// resolves exactly once (see [`RpcError`]): the response, the server's
/// application error, `BrokenPromise`, `EndpointNotFound`,
/// `MaybeDelivered`, or a decode error.
///
/// Delivery follows FoundationDB:
/// - [`Delivery::Reliable`] (the default, `getReply`): the request is resent
///   on every new connection until the reply arrives, so a reply comes as
///   long as the server stays up; duplicates are possible across
///   reconnects. Only the peer's shutdown ends it with `MaybeDelivered`.
/// - [`Delivery::Unreliable`] (`tryGetReply`): sent at most once; if the
///   connection it went out on fails before the reply, the call ends with
///   `MaybeDelivered`.
///
/// Dropping the response future cancels the call: its reply token is
/// forgotten (a late reply is dropped quietly) and a reliable request stops
/// being resent. A call to an endpoint of this very node is delivered
/// locally, without a socket, with the same outcomes.
///
/// `poll_ready` waits while the peer's send queue is full and never fails.
pub struct RpcClient<Req, Resp, QC = ProstCodec<Req>, RC = ProstCodec<Resp>> {
    target: Endpoint,
    router: EndpointRouter,
    /// `None` for a local endpoint.
    peer: Option<Peer>,
    delivery: Delivery,
    request_codec: QC,
    response_codec: RC,
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<Req, Resp> RpcClient<Req, Resp>
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + Default + 'static,
{
    /// A reliable client of `endpoint` through `transport`, with protobuf
    /// requests and responses.
    pub fn new(transport: &Transport, endpoint: Endpoint) -> Self {
        Self::with_codecs(transport, endpoint, ProstCodec::new(), ProstCodec::new())
    }
}

impl<Req, Resp, QC, RC> RpcClient<Req, Resp, QC, RC>
where
    QC: PayloadCodec<Req>,
    RC: PayloadCodec<Resp>,
{
    /// A reliable client of `endpoint` through `transport` with the given
    /// payload codecs.
    pub fn with_codecs(
        transport: &Transport,
        endpoint: Endpoint,
        request_codec: QC,
        response_codec: RC,
    ) -> Self {
        let router = transport.router().clone();
        let peer = if router.local_address() == Some(endpoint.address) {
            None
        } else {
            Some(transport.peer(endpoint.address))
        };
        Self {
            target: endpoint,
            router,
            peer,
            delivery: Delivery::Reliable,
            request_codec,
            response_codec,
            _types: PhantomData,
        }
    }

    /// This client with `delivery` for its calls.
    #[must_use]
    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// This client, sending its requests unreliably (`tryGetReply`).
    #[must_use]
    pub fn unreliable(self) -> Self {
        self.with_delivery(Delivery::Unreliable)
    }

    /// The endpoint called.
    pub const fn endpoint(&self) -> Endpoint {
        self.target
    }

    /// How requests are delivered.
    pub const fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// Whether calls are delivered locally (the endpoint is on this node).
    pub const fn is_local(&self) -> bool {
        self.peer.is_none()
    }

    /// Sends `request` reliably and waits for the reply, as FoundationDB's
    /// `getReply` (`ready` then `call` on a clone).
    pub fn get_reply(
        &self,
        request: Req,
    ) -> impl Future<Output = Result<Resp, RpcError>> + use<Req, Resp, QC, RC> {
        self.clone()
            .with_delivery(Delivery::Reliable)
            .oneshot(request)
    }

    /// Sends `request` at most once and waits for the reply, as
    /// FoundationDB's `tryGetReply`.
    pub fn try_get_reply(
        &self,
        request: Req,
    ) -> impl Future<Output = Result<Resp, RpcError>> + use<Req, Resp, QC, RC> {
        self.clone()
            .with_delivery(Delivery::Unreliable)
            .oneshot(request)
    }
}

impl<Req, Resp, QC, RC> tower::Service<Req> for RpcClient<Req, Resp, QC, RC>
where
    QC: PayloadCodec<Req>,
    RC: PayloadCodec<Resp>,
{
    type Response = Resp;
    type Error = RpcError;
    type Future = ResponseFuture<Resp, RC>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        match &mut self.peer {
            // A closed peer is reported by `call`: readiness never fails.
            Some(peer) => peer.poll_ready(cx).map(|_| Ok(())),
            None => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // moonpool's own tokens serve no requests, and a node drops packets
        // for them without a notice: such a call would wait forever.
        if is_reserved(self.target.token) {
            return ResponseFuture::failed(RpcError::EndpointNotFound {
                endpoint: self.target,
            });
        }
        let shared = &self.router.shared;
        let (reply_token, receiver) = shared.open_pending(self.target);
        let mut call = PendingCall::new(self.router.weak(), reply_token, self.target);
        let payload = match encode_request(reply_token, &self.request_codec, &request) {
            Ok(payload) => payload,
            Err(error) => return ResponseFuture::failed(RpcError::Encode(error)),
        };
        let packet = Packet::new(self.target.token, payload);
        let codec = self.response_codec.clone();
        let Some(peer) = &mut self.peer else {
            self.router.deliver_local(packet);
            return ResponseFuture::waiting(receiver, None, call, codec);
        };
        let outgoing = Outgoing {
            packet,
            delivery: self.delivery,
        };
        let receipt = match peer.call(outgoing).into_inner() {
            Ok(receipt) => receipt,
            Err(error) => return ResponseFuture::failed(RpcError::NotSent(error)),
        };
        let failure: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = match self.delivery {
            Delivery::Unreliable => Box::pin(receipt.connection_failure()),
            Delivery::Reliable => {
                let mut events = peer.connection_events();
                Box::pin(async move {
                    // An error means the peer is gone: closed too.
                    let _ = events
                        .wait_for(|epoch| epoch.state == PeerState::Closed)
                        .await;
                })
            }
        };
        call.set_handle(receipt.into_reliable_handle());
        ResponseFuture::waiting(receiver, Some(failure), call, codec)
    }
}

impl<Req, Resp, QC: Clone, RC: Clone> Clone for RpcClient<Req, Resp, QC, RC> {
    fn clone(&self) -> Self {
        Self {
            target: self.target,
            router: self.router.clone(),
            peer: self.peer.clone(),
            delivery: self.delivery,
            request_codec: self.request_codec.clone(),
            response_codec: self.response_codec.clone(),
            _types: PhantomData,
        }
    }
}

impl<Req, Resp, QC, RC> fmt::Debug for RpcClient<Req, Resp, QC, RC> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("endpoint", &self.target)
            .field("delivery", &self.delivery)
            .field("local", &self.peer.is_none())
            .finish_non_exhaustive()
    }
}
