//! One test body, two networks: `TestNet` abstracts what a body needs, and
//! `conformance!` generates a `real_tcp` and a `simulated` test per body.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use moonpool_sim_net::{Sim, SimTcpListener, SimTcpStream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What a conformance body may do with a network.
pub(crate) trait TestNet: Clone + Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static;
    type Listener: Send + Sync + 'static;

    /// Whether this is the simulator (for the few kernel-specific checks).
    fn is_simulated(&self) -> bool;
    /// Listens on this machine's (host's) address at `port` (0: ephemeral).
    fn bind(&self, port: u16) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    fn listener_addr(listener: &Self::Listener) -> SocketAddr;
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    fn local_addr(stream: &Self::Stream) -> SocketAddr;
    fn peer_addr(stream: &Self::Stream) -> SocketAddr;
    fn set_nodelay(stream: &Self::Stream) -> io::Result<()>;
    /// Spawns a task (into the host, for the simulator).
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

#[derive(Clone)]
pub(crate) struct RealNet;

impl TestNet for RealNet {
    type Stream = TcpStream;
    type Listener = TcpListener;

    fn is_simulated(&self) -> bool {
        false
    }

    async fn bind(&self, port: u16) -> io::Result<TcpListener> {
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await
    }

    fn listener_addr(listener: &TcpListener) -> SocketAddr {
        listener.local_addr().unwrap()
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        listener.accept().await
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }

    fn local_addr(stream: &TcpStream) -> SocketAddr {
        stream.local_addr().unwrap()
    }

    fn peer_addr(stream: &TcpStream) -> SocketAddr {
        stream.peer_addr().unwrap()
    }

    fn set_nodelay(stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn spawn<T, F>(&self, future: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        tokio::spawn(future)
    }
}

#[derive(Clone)]
pub(crate) struct SimNet {
    ip: Ipv4Addr,
}

impl TestNet for SimNet {
    type Stream = SimTcpStream;
    type Listener = SimTcpListener;

    fn is_simulated(&self) -> bool {
        true
    }

    async fn bind(&self, port: u16) -> io::Result<SimTcpListener> {
        SimTcpListener::bind((self.ip, port)).await
    }

    fn listener_addr(listener: &SimTcpListener) -> SocketAddr {
        listener.local_addr().unwrap()
    }

    async fn accept(listener: &SimTcpListener) -> io::Result<(SimTcpStream, SocketAddr)> {
        listener.accept().await
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<SimTcpStream> {
        SimTcpStream::connect(addr).await
    }

    fn local_addr(stream: &SimTcpStream) -> SocketAddr {
        stream.local_addr().unwrap()
    }

    fn peer_addr(stream: &SimTcpStream) -> SocketAddr {
        stream.peer_addr().unwrap()
    }

    fn set_nodelay(stream: &SimTcpStream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn spawn<T, F>(&self, future: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        moonpool_sim_net::spawn(future)
    }
}

/// Runs `body` on real TCP, with a wall-clock safety timeout.
pub(crate) fn run_real<F, Fut>(body: F)
where
    F: FnOnce(RealNet) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), body(RealNet))
            .await
            .expect("the body finished within 60 s of wall time");
    });
}

/// Runs `body` as the workload of a one-host simulation, for a few seeds.
pub(crate) fn run_sim<F, Fut>(body: F)
where
    F: Fn(SimNet) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for seed in 1..=3 {
        let ip = Ipv4Addr::new(10, 0, 0, 1);
        let body = body(SimNet { ip });
        let outcome = Sim::new(seed)
            .workload("conformance", ip, async move {
                body.await;
                Ok::<(), io::Error>(())
            })
            .run(Duration::from_secs(3600));
        if let Err(error) = outcome {
            panic!("seed {seed}: {error}");
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
