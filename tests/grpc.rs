//! A one-method gRPC service, `moonpool.test.Echo/Echo`, written as the
//! code `tonic-prost-build` would generate for it: prost-derived messages, a
//! server that routes by path to tonic's `server::Grpc` with `ProstCodec`,
//! and a client call through tonic's `client::Grpc`. Hand-written so the
//! suite needs no `protoc` and no build script.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// The service's full name.
pub const SERVICE: &str = "moonpool.test.Echo";
/// The path of its one method.
pub const ECHO_PATH: &str = "/moonpool.test.Echo/Echo";

/// What a client sends.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    /// The call's number, echoed back.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Bytes echoed back.
    #[prost(bytes = "vec", tag = "2")]
    pub payload: Vec<u8>,
}

/// What the server answers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    /// The request's `id`.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// The request's `payload`.
    #[prost(bytes = "vec", tag = "2")]
    pub payload: Vec<u8>,
    /// The caller's address as the server saw it (`Request::remote_addr`),
    /// empty if tonic had none.
    #[prost(string, tag = "3")]
    pub caller: String,
}

/// The server side: a tower service over HTTP/2 requests, for
/// `tonic::transport::Server::add_service`.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoServer;

impl NamedService for EchoServer {
    const NAME: &'static str = SERVICE;
}

impl<B> tower::Service<http::Request<B>> for EchoServer
where
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
        Box::pin(async move {
            if request.uri().path() != ECHO_PATH {
                return Ok(Status::unimplemented(request.uri().path().to_owned()).into_http());
            }
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default());
            Ok(grpc.unary(tower::service_fn(echo), request).await)
        })
    }
}

async fn echo(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let caller = request
        .remote_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_default();
    let EchoRequest { id, payload } = request.into_inner();
    Ok(Response::new(EchoReply {
        id,
        payload,
        caller,
    }))
}

/// Calls `Echo` over `channel`.
pub async fn call(channel: Channel, request: EchoRequest) -> Result<EchoReply, Status> {
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
