//! Shared helpers of the peer and transport tests: an in-memory network
//! over `tokio::io::duplex` (usable on paused time), node builders, and
//! packet helpers.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::Stream;
use moonpool_codec::{NetworkAddress, Packet, Uid};
use moonpool_tower::peer::{Peer, PeerConfig};
use moonpool_tower::transport::{Inbound, InboundChannel, Transport, TransportConfig};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The token test packets are sent to.
pub const TOKEN_FIRST: u64 = 0xABCD;

/// Test packet number `n`.
pub fn packet(n: u64) -> Packet {
    Packet::new(Uid::new(TOKEN_FIRST, n), n.to_le_bytes().to_vec())
}

/// The number of a test packet.
pub fn number(packet: &Packet) -> u64 {
    packet.token.second
}

/// An address on the in-memory network.
pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

type Listeners =
    BTreeMap<SocketAddr, mpsc::UnboundedSender<io::Result<(DuplexStream, SocketAddr)>>>;

/// A network of duplex pipes: `connect` reaches whoever listens at the
/// address, or is refused.
#[derive(Clone, Default)]
pub struct MemoryNet {
    listeners: Arc<Mutex<Listeners>>,
    attempts: Arc<Mutex<Vec<(SocketAddr, Instant)>>>,
    next_port: Arc<Mutex<u16>>,
    /// While set, connects to these addresses hang forever (a black hole).
    black_holes: Arc<Mutex<Vec<SocketAddr>>>,
}

impl MemoryNet {
    /// Starts listening at `address`; returns the accept stream.
    pub fn listen(
        &self,
        address: SocketAddr,
    ) -> impl Stream<Item = io::Result<(DuplexStream, SocketAddr)>> + Send + 'static {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.listeners.lock().unwrap().insert(address, tx);
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }

    /// Stops listening at `address` (its accept stream ends).
    pub fn unlisten(&self, address: SocketAddr) {
        self.listeners.lock().unwrap().remove(&address);
    }

    /// Makes connects to `address` hang.
    pub fn black_hole(&self, address: SocketAddr) {
        self.black_holes.lock().unwrap().push(address);
    }

    /// When each connect to `address` was attempted.
    pub fn attempts(&self, address: SocketAddr) -> Vec<Instant> {
        self.attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| *a == address)
            .map(|(_, at)| *at)
            .collect()
    }

    /// Connects to `address` (the connector's body).
    pub async fn connect(&self, address: SocketAddr) -> io::Result<DuplexStream> {
        self.attempts
            .lock()
            .unwrap()
            .push((address, Instant::now()));
        if self.black_holes.lock().unwrap().contains(&address) {
            std::future::pending::<()>().await;
        }
        let listener = self.listeners.lock().unwrap().get(&address).cloned();
        let Some(listener) = listener else {
            return Err(io::ErrorKind::ConnectionRefused.into());
        };
        let (client, server) = tokio::io::duplex(64 * 1024);
        let from = {
            let mut port = self.next_port.lock().unwrap();
            *port = port.wrapping_add(1).max(1);
            SocketAddr::new(addr("192.168.0.1:0").ip(), 40000u16.wrapping_add(*port))
        };
        listener
            .send(Ok((server, from)))
            .map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
        Ok(client)
    }

    /// A connector (`Service<SocketAddr>`) onto this network.
    pub fn connector(
        &self,
    ) -> impl tower::Service<
        SocketAddr,
        Response = DuplexStream,
        Error = io::Error,
        Future = impl Send + 'static,
    > + Clone
    + Send
    + 'static {
        let net = self.clone();
        tower::service_fn(move |address| {
            let net = net.clone();
            async move { net.connect(address).await }
        })
    }

    /// A node listening at `address` that records what it receives.
    pub fn server(&self, address: SocketAddr, seed: u64, config: TransportConfig) -> Node {
        let (handler, received) = InboundChannel::new(100_000);
        let transport = Transport::builder(self.connector())
            .seed(seed)
            .listen(NetworkAddress::from(address), self.listen(address))
            .config(config)
            .inbound(handler)
            .build()
            .unwrap();
        Node {
            transport,
            received,
        }
    }

    /// A node that does not listen.
    pub fn client(&self, seed: u64, config: TransportConfig) -> Node {
        let (handler, received) = InboundChannel::new(100_000);
        let transport = Transport::builder(self.connector())
            .seed(seed)
            .config(config)
            .inbound(handler)
            .build()
            .unwrap();
        Node {
            transport,
            received,
        }
    }
}

/// A transport and the packets it received.
pub struct Node {
    pub transport: Transport,
    pub received: mpsc::Receiver<Inbound>,
}

impl Node {
    /// The next packet received, within `within`.
    pub async fn recv(&mut self, within: Duration) -> Inbound {
        tokio::time::timeout(within, self.received.recv())
            .await
            .expect("a packet in time")
            .expect("the node is running")
    }

    /// The numbers of the next `n` packets received.
    pub async fn recv_numbers(&mut self, n: usize, within: Duration) -> Vec<u64> {
        let mut numbers = Vec::new();
        for _ in 0..n {
            numbers.push(number(&self.recv(within).await.packet));
        }
        numbers
    }

    /// Whether nothing more arrives within `within`.
    pub async fn nothing_within(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, self.received.recv())
            .await
            .is_err()
    }

    /// The peer of `address`.
    pub fn peer(&self, address: SocketAddr) -> Peer {
        self.transport.peer(NetworkAddress::from(address))
    }
}

/// A transport configuration with a changed peer configuration.
pub fn with_peer(config: PeerConfig) -> TransportConfig {
    TransportConfig {
        peer: config,
        ..TransportConfig::default()
    }
}

/// Polls `condition` every 10 ms until it holds, or panics after `within`.
pub async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
