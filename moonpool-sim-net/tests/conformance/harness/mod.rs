//! One test body, two networks: `TestNet` abstracts what a body needs, and
//! `conformance!` generates a `real_tcp` and a `simulated` test per body.
//!
//! On real TCP both ends live on 127.0.0.1; in the simulator the listener
//! lives on one host (`server`, 10.0.0.1) and the connecting socket on
//! another (`client`, 10.0.0.2), so every packet crosses the simulated
//! network between two hosts.

mod api;
mod half_api;
mod real;
mod sim;
mod socket_api;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

pub(crate) use api::StreamApi;
pub(crate) use half_api::{ReadHalfApi, WriteHalfApi};
pub(crate) use real::run_real;
pub(crate) use sim::run_sim;
pub(crate) use socket_api::SocketApi;
use tokio::task::JoinHandle;

/// What a conformance body may do with a network.
pub(crate) trait TestNet: Clone + Send + Sync + 'static {
    type Stream: StreamApi;
    type Listener: std::fmt::Debug + Send + Sync + 'static;
    type Socket: SocketApi<Stream = Self::Stream, Listener = Self::Listener>;

    /// Whether this is the simulator (for the few kernel-specific checks).
    fn is_simulated(&self) -> bool;
    /// Listens on the server's address at `port` (0: ephemeral).
    fn bind(&self, port: u16) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    fn listener_addr(listener: &Self::Listener) -> SocketAddr;
    fn listener_ttl(listener: &Self::Listener) -> io::Result<u32>;
    fn set_listener_ttl(listener: &Self::Listener, ttl: u32) -> io::Result<()>;
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
    /// Connects from the client to `addr`.
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Connects from the client to each of `addrs` in turn.
    fn connect_any(
        &self,
        addrs: Vec<SocketAddr>,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Connects from the client to `"name:port"`, by the server's host name.
    fn connect_by_name(&self, port: u16) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// A fresh IPv4 socket of the client.
    fn client_socket(&self) -> impl Future<Output = io::Result<Self::Socket>> + Send;
    /// A fresh IPv4 socket of the server (its address: `server_ip`).
    fn server_socket(&self) -> impl Future<Output = io::Result<Self::Socket>> + Send;
    fn server_ip(&self) -> std::net::IpAddr;
    /// Spawns a task (into the client host, for the simulator).
    fn spawn<T, F>(&self, future: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static;

    /// Bind on an ephemeral port, accept one connection, connect to it:
    /// (client end, server end).
    fn pair(&self) -> impl Future<Output = (Self::Stream, Self::Stream)> + Send {
        let net = self.clone();
        async move {
            let listener = net.bind(0).await.unwrap();
            let addr = Self::listener_addr(&listener);
            let (client, accepted) = tokio::join!(net.connect(addr), Self::accept(&listener));
            (client.unwrap(), accepted.unwrap().0)
        }
    }
}

/// `conformance!(name)` runs the generic `async fn name<N: TestNet>(net: N)`
/// of the enclosing module against both networks.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn real_tcp() {
                    $crate::harness::run_real(|net| super::$name(net));
                }

                #[test]
                fn simulated() {
                    $crate::harness::run_sim(|net| super::$name(net));
                }
            }
        )*
    };
}
pub(crate) use conformance;

/// A deterministic byte pattern: byte `i` of the stream is `pattern(i)`.
pub(crate) fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8)) as u8
}

/// Lets packets (ACKs, RSTs, FINs) travel: 50 ms of wall time on loopback,
/// of simulated time in the simulator. Used only where the kernel's answer
/// depends on a packet having arrived, and said so at the call.
pub(crate) async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}
