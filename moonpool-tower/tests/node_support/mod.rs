//! Shared helpers of the endpoint and RPC tests: nodes on real loopback
//! TCP, nodes that only deliver locally, and a deadline for every await.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use moonpool_codec::NetworkAddress;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::transport::Transport;
use tokio::io::DuplexStream;

/// How long a test waits for anything before it fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(10);

/// `future`'s output, or a test failure after [`LIMIT`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("did not resolve in time")
}

/// A node listening on a fresh loopback port, and its address.
pub async fn tcp_server(seed: u64) -> (Transport, NetworkAddress) {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address: NetworkAddress = incoming.local_addr().unwrap().into();
    let transport = Transport::builder(TcpConnector::new())
        .seed(seed)
        .listen(address, incoming)
        .build()
        .unwrap();
    (transport, address)
}

/// A node that connects over TCP and listens nowhere (an anonymous client).
pub fn tcp_client(seed: u64) -> Transport {
    Transport::builder(TcpConnector::new())
        .seed(seed)
        .build()
        .unwrap()
}

/// A node that claims `address` and never accepts: every call to its own
/// endpoints is delivered locally.
pub fn local_node(seed: u64, address: &str) -> (Transport, NetworkAddress) {
    let address: NetworkAddress = address.parse::<SocketAddr>().unwrap().into();
    let never = futures_util::stream::pending::<io::Result<(DuplexStream, SocketAddr)>>();
    let transport = Transport::builder(TcpConnector::new())
        .seed(seed)
        .listen(address, never)
        .build()
        .unwrap();
    (transport, address)
}
