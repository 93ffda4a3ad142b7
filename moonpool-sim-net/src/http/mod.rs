//! hyper and tonic over the simulator (cargo feature `hyper`; `tonic` adds
//! tonic's `Connected`).
//!
//! Stock hyper, hyper-util and tonic run over simulated TCP through these
//! adapters alone, without wrapper types in user code:
//!
//! - **connect**: [`SimHttpConnector`], a `tower::Service<Uri>` that resolves
//!   the URI's host through the simulation's host table and answers hyper's
//!   IO traits with hyper-util's own [`TokioIo`](hyper_util::rt::TokioIo).
//!   It is a connector for hyper-util's legacy `Client` and for tonic's
//!   `Endpoint::connect_with_connector`.
//! - **accept**: [`SimTcpListenerStream`](crate::SimTcpListenerStream), the
//!   plain-stream accept stream tonic's `serve_with_incoming` takes; with
//!   the `tonic` feature [`SimTcpStream`](crate::SimTcpStream) implements
//!   `tonic::transport::server::Connected`, so `Request::remote_addr` works.
//! - **spawn**: [`HostHandle`](crate::HostHandle) and [`CurrentHost`]
//!   implement `hyper::rt::Executor`, so the tasks a framework spawns (hyper's
//!   HTTP/2 streams, tonic's channel worker) belong to a host and die with it.
//!
//! # Tasks that escape a host
//!
//! Code that calls `tokio::spawn` itself, as tonic's `Server` does for each
//! accepted connection, starts tasks that belong to no host: a crash does not
//! abort them (they end when their sockets, reset by the crash, fail), and
//! inside them `moonpool_sim_net::spawn` and `SimTcpStream::connect` have no
//! host and fail. Where that matters, serve each connection yourself with
//! hyper-util's `server::conn::auto::Builder::new(HostHandle)` inside a task
//! started with [`spawn`](crate::spawn), serving tonic's `Routes`
//! (`Routes::new(service)`, the services `Server::add_service` takes)
//! through hyper-util's `TowerToHyperService`; `examples/tonic_sim.rs`
//! shows both ways and what a crash does to each.
//!
//! tower itself has no executor trait: its `Buffer` spawns its worker with
//! `tokio::spawn` unless you build it with `Buffer::pair` and spawn the
//! worker yourself, with [`HostHandle::spawn`](crate::HostHandle::spawn).

mod connector;
mod executor;

pub use connector::{HttpConnectError, HttpConnecting, SimHttpConnector};
pub use executor::CurrentHost;
