//! The simulator: a `server` host that only serves (its listeners are made
//! in its own tasks), and the body running as the workload of a `client`
//! host.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_sim_net::{HostHandle, Sim, SimTcpListener, SimTcpSocket, SimTcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::TestNet;

pub(crate) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

#[derive(Clone)]
pub(crate) struct SimNet {
    server: HostHandle,
}

impl TestNet for SimNet {
    type Stream = SimTcpStream;
    type Listener = SimTcpListener;
    type Socket = SimTcpSocket;

    fn is_simulated(&self) -> bool {
        true
    }

    async fn bind(&self, port: u16) -> io::Result<SimTcpListener> {
        let bound = self.server.spawn(SimTcpListener::bind((SERVER_IP, port)));
        bound.await.unwrap()
    }

    fn listener_addr(listener: &SimTcpListener) -> SocketAddr {
        listener.local_addr().unwrap()
    }

    fn listener_ttl(listener: &SimTcpListener) -> io::Result<u32> {
        listener.ttl()
    }

    fn set_listener_ttl(listener: &SimTcpListener, ttl: u32) -> io::Result<()> {
        listener.set_ttl(ttl)
    }

    async fn accept(listener: &SimTcpListener) -> io::Result<(SimTcpStream, SocketAddr)> {
        listener.accept().await
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<SimTcpStream> {
        SimTcpStream::connect(addr).await
    }

    async fn connect_any(&self, addrs: Vec<SocketAddr>) -> io::Result<SimTcpStream> {
        SimTcpStream::connect(&addrs[..]).await
    }

    async fn connect_by_name(&self, port: u16) -> io::Result<SimTcpStream> {
        SimTcpStream::connect(format!("server:{port}")).await
    }

    async fn client_socket(&self) -> io::Result<SimTcpSocket> {
        SimTcpSocket::new_v4()
    }

    async fn server_socket(&self) -> io::Result<SimTcpSocket> {
        self.server
            .spawn(async { SimTcpSocket::new_v4() })
            .await
            .unwrap()
    }

    fn server_ip(&self) -> std::net::IpAddr {
        SERVER_IP.into()
    }

    fn spawn<T, F>(&self, future: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        moonpool_sim_net::spawn(future)
    }
}

/// Runs `body` as the workload of the client host of a two-host simulation,
/// for a few seeds; the first seed runs twice and must give the same trace.
pub(crate) fn run_sim<F, Fut>(body: F)
where
    F: Fn(SimNet) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let body = Arc::new(body);
    let hashes: Vec<u64> = [1, 2, 3, 1]
        .into_iter()
        .map(|seed| run_seed(seed, body.clone()))
        .collect();
    assert_eq!(hashes[0], hashes[3], "seed 1 ran twice to different traces");
}

fn run_seed<F, Fut>(seed: u64, body: Arc<F>) -> u64
where
    F: Fn(SimNet) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tell, told) = oneshot::channel::<HostHandle>();
    let tell = Arc::new(Mutex::new(Some(tell)));
    let outcome = Sim::new(seed)
        .host("server", SERVER_IP, move || {
            let tell = tell.lock().unwrap().take();
            async move {
                if let (Some(tell), Some(me)) = (tell, HostHandle::current()) {
                    let _ = tell.send(me);
                }
                std::future::pending::<Result<(), io::Error>>().await
            }
        })
        .workload("client", CLIENT_IP, async move {
            let server = told.await.expect("the server host started");
            body(SimNet { server }).await;
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(3600));
    match outcome {
        Ok(outcome) => outcome.trace_hash,
        Err(error) => panic!("seed {seed}: {error}"),
    }
}
