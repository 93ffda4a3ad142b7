//! A one-method gRPC service, `moonpool.example.Echo/Echo`, written as the
//! code `tonic-prost-build` would generate: prost-derived messages, a server
//! that routes by path to tonic's `server::Grpc` with `ProstCodec`, and a
//! client call through tonic's `client::Grpc`. Hand-written so the examples
//! need no `protoc` and no build script.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// The path of the service's one method.
pub(crate) const ECHO_PATH: &str = "/moonpool.example.Echo/Echo";

/// What a client sends.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EchoRequest {
    /// Echoed back.
    #[prost(string, tag = "1")]
    pub(crate) text: String,
}

/// What the server answers.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EchoReply {
    /// The request's text.
    #[prost(string, tag = "1")]
    pub(crate) text: String,
    /// The serving host's incarnation.
    #[prost(uint64, tag = "2")]
    pub(crate) incarnation: u64,
}

/// The server: routes `Echo` calls to `handler`, any tower service from
/// `Request<EchoRequest>` to `Response<EchoReply>` (generated code takes a
/// trait object here; a service keeps this file short).
#[derive(Clone)]
pub(crate) struct EchoServer<S> {
    handler: S,
}

impl<S> EchoServer<S> {
    pub(crate) fn new(handler: S) -> Self {
        Self { handler }
    }
}

impl<S> NamedService for EchoServer<S> {
    const NAME: &'static str = "moonpool.example.Echo";
}

impl<S, B> tower::Service<http::Request<B>> for EchoServer<S>
where
    S: tower::Service<Request<EchoRequest>, Response = Response<EchoReply>, Error = Status>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let handler = self.handler.clone();
        Box::pin(async move {
            if request.uri().path() != ECHO_PATH {
                return Ok(Status::unimplemented(request.uri().path().to_owned()).into_http());
            }
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default());
            Ok(grpc.unary(handler, request).await)
        })
    }
}

/// Calls `Echo` over `channel`.
pub(crate) async fn call(channel: Channel, request: EchoRequest) -> Result<EchoReply, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let codec = ProstCodec::<EchoRequest, EchoReply>::default();
    grpc.unary(
        Request::new(request),
        PathAndQuery::from_static(ECHO_PATH),
        codec,
    )
    .await
    .map(Response::into_inner)
}
