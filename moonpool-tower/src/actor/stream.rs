//! The server's side of an endpoint as a stream of requests.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures_core::Stream;
use moonpool_codec::{PayloadCodec, ProstCodec, Uid};
use tokio::sync::mpsc;
use tracing::debug;

use super::ReplyPromise;
use crate::endpoint::{
    CallerShares, EndpointRouter, IncomingPacket, RouterError, RouterShared, ShareGuard,
};
use crate::rpc::envelope::split_request;

type Item<Req, Resp, RC> = (Req, ReplyPromise<Resp, RC>);

/// A queued request, with its place in its caller's share of the queue
/// (given back when the request is taken off the queue).
type Queued<Req, Resp, RC> = (Req, ReplyPromise<Resp, RC>, ShareGuard);

fn unqueue<Req, Resp, RC>(
    (request, promise, _share): Queued<Req, Resp, RC>,
) -> Item<Req, Resp, RC> {
    (request, promise)
}
/// The requests addressed to one endpoint, as FoundationDB's
/// `RequestStream`: a [`Stream`] of `(request, promise)` pairs, for servers
/// written as a loop that selects over several streams.
///
/// Requests are yielded in the order they arrived. Receiving never blocks a
/// connection: the queue holds at most
/// [`EndpointConfig::request_stream_capacity`](crate::transport::EndpointConfig)
/// requests, and one arriving at a full queue is answered `BrokenPromise` at
/// once, so no peer can grow a slow server's memory without limit. Each
/// peer holds at most
/// [`EndpointConfig::request_stream_capacity_per_peer`](crate::transport::EndpointConfig::request_stream_capacity_per_peer)
/// of those places: one beyond is answered `BrokenPromise` too, so a peer
/// that floods fills its share, not the queue. A request
/// that does not decode is answered `BadRequest` and not yielded.
///
/// Dropping the stream unregisters its token (later requests are answered
/// `EndpointNotFound`) and drops the requests still queued, which answers
/// each `BrokenPromise`.
///
/// ```
/// # use moonpool_tower::endpoint::EndpointRouter;
/// # async fn example(router: &EndpointRouter) -> Result<(), moonpool_tower::endpoint::RouterError> {
/// use moonpool_codec::Uid;
/// use moonpool_tower::actor::RequestStream;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Get { #[prost(string, tag = "1")] key: String }
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Value { #[prost(bytes = "vec", tag = "1")] value: Vec<u8> }
///
/// let mut gets: RequestStream<Get, Value> = router.request_stream(Uid::new(9, 0))?;
/// let mut sets: RequestStream<Value, Value> = router.request_stream(Uid::new(9, 1))?;
/// loop {
///     tokio::select! {
///         biased;
///         Some((_get, reply)) = gets.recv() => reply.send(Value::default()),
///         Some((set, reply)) = sets.recv() => reply.send(set),
///         else => break,
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct RequestStream<Req, Resp, RC = ProstCodec<Resp>> {
    receiver: mpsc::Receiver<Queued<Req, Resp, RC>>,
    token: Uid,
    router: Weak<RouterShared>,
    registration: u64,
}

impl<Req, Resp, RC> RequestStream<Req, Resp, RC> {
    /// The token the stream is registered at.
    pub const fn token(&self) -> Uid {
        self.token
    }

    /// The next request, or `None` once the router is gone.
    pub async fn recv(&mut self) -> Option<Item<Req, Resp, RC>> {
        self.receiver.recv().await.map(unqueue)
    }

    /// How many requests are queued.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    /// Whether no request is queued.
    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }

    /// The next request if one is queued.
    pub fn try_recv(&mut self) -> Option<Item<Req, Resp, RC>> {
        self.receiver.try_recv().ok().map(unqueue)
    }
}

impl<Req, Resp, RC> Stream for RequestStream<Req, Resp, RC> {
    type Item = Item<Req, Resp, RC>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .receiver
            .poll_recv(cx)
            .map(|item| item.map(unqueue))
    }
}

impl<Req, Resp, RC> Drop for RequestStream<Req, Resp, RC> {
    fn drop(&mut self) {
        if let Some(router) = self.router.upgrade() {
            router.unregister_id(self.token, self.registration);
        }
    }
}

impl<Req, Resp, RC> fmt::Debug for RequestStream<Req, Resp, RC> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStream")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// The router's side of a [`RequestStream`]: decodes and queues.
struct StreamSink<Req, Resp, QC, RC> {
    sender: mpsc::Sender<Queued<Req, Resp, RC>>,
    shares: Arc<CallerShares>,
    per_peer: usize,
    request_codec: QC,
    response_codec: RC,
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<Req, Resp, QC: Clone, RC: Clone> Clone for StreamSink<Req, Resp, QC, RC> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
            shares: Arc::clone(&self.shares),
            per_peer: self.per_peer,
            request_codec: self.request_codec.clone(),
            response_codec: self.response_codec.clone(),
            _types: PhantomData,
        }
    }
}

impl<Req, Resp, QC, RC> tower::Service<IncomingPacket> for StreamSink<Req, Resp, QC, RC>
where
    QC: PayloadCodec<Req>,
    RC: PayloadCodec<Resp>,
{
    type Response = ();
    type Error = Infallible;
    type Future = Ready<Result<(), Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: IncomingPacket) -> Self::Future {
        let token = incoming.packet.token;
        let Some((reply_token, body)) = split_request(incoming.packet.payload) else {
            debug!(%token, "request shorter than its reply token dropped");
            return ready(Ok(()));
        };
        let caller = incoming.reply.caller();
        let promise = ReplyPromise::new(reply_token, incoming.reply, self.response_codec.clone());
        match self.request_codec.decode(body) {
            // A full or closed stream hands the request back, and a caller
            // over its share keeps it; dropping the promise answers
            // BrokenPromise.
            Ok(request) => match self.shares.try_take(caller, self.per_peer) {
                Some(share) => {
                    if let Err(mpsc::error::TrySendError::Full(_)) =
                        self.sender.try_send((request, promise, share))
                    {
                        debug!(%token, "request stream full: request answered BrokenPromise");
                    }
                }
                None => debug!(
                    %token,
                    per_peer = self.per_peer,
                    "the caller holds its share of the request stream: request answered BrokenPromise"
                ),
            },
            Err(error) => {
                debug!(%token, %error, "undecodable request");
                promise.send_bad_request(error.to_string());
            }
        }
        ready(Ok(()))
    }
}

impl EndpointRouter {
    /// Registers a [`RequestStream`] of protobuf requests and responses at
    /// `token` (see [`EndpointRouter::register`] for which tokens are
    /// accepted).
    pub fn request_stream<Req, Resp>(
        &self,
        token: Uid,
    ) -> Result<RequestStream<Req, Resp>, RouterError>
    where
        Req: prost::Message + Default + Send + 'static,
        Resp: prost::Message + Default + Send + 'static,
    {
        self.request_stream_with(token, ProstCodec::new(), ProstCodec::new())
    }

    /// Registers a [`RequestStream`] at `token` with the given payload
    /// codecs.
    pub fn request_stream_with<Req, Resp, QC, RC>(
        &self,
        token: Uid,
        request_codec: QC,
        response_codec: RC,
    ) -> Result<RequestStream<Req, Resp, RC>, RouterError>
    where
        Req: Send + 'static,
        Resp: Send + 'static,
        QC: PayloadCodec<Req>,
        RC: PayloadCodec<Resp>,
    {
        // tokio's channel needs room for at least one request.
        let capacity = self.shared.config.request_stream_capacity.max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let sink = StreamSink {
            sender,
            shares: CallerShares::new(),
            per_peer: self.shared.config.request_stream_capacity_per_peer,
            request_codec,
            response_codec,
            _types: PhantomData,
        };
        let registration = self
            .shared
            .register(token, tower::util::BoxCloneService::new(sink))?;
        Ok(RequestStream {
            receiver,
            token,
            router: self.weak(),
            registration,
        })
    }
}
