//! Kernel TCP through tokio, on 127.0.0.1.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use super::TestNet;

#[derive(Clone)]
pub(crate) struct RealNet;

impl TestNet for RealNet {
    type Stream = TcpStream;
    type Listener = TcpListener;
    type Socket = TcpSocket;

    fn is_simulated(&self) -> bool {
        false
    }

    async fn bind(&self, port: u16) -> io::Result<TcpListener> {
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await
    }

    fn listener_addr(listener: &TcpListener) -> SocketAddr {
        listener.local_addr().unwrap()
    }

    fn listener_ttl(listener: &TcpListener) -> io::Result<u32> {
        listener.ttl()
    }

    fn set_listener_ttl(listener: &TcpListener, ttl: u32) -> io::Result<()> {
        listener.set_ttl(ttl)
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        listener.accept().await
    }

    async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }

    async fn connect_any(&self, addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
        TcpStream::connect(&addrs[..]).await
    }

    async fn connect_by_name(&self, port: u16) -> io::Result<TcpStream> {
        TcpStream::connect(format!("localhost:{port}")).await
    }

    async fn client_socket(&self) -> io::Result<TcpSocket> {
        TcpSocket::new_v4()
    }

    async fn server_socket(&self) -> io::Result<TcpSocket> {
        TcpSocket::new_v4()
    }

    fn server_ip(&self) -> std::net::IpAddr {
        Ipv4Addr::LOCALHOST.into()
    }

    fn spawn<T, F>(&self, future: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        tokio::spawn(future)
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
