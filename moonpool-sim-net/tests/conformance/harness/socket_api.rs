//! tokio's `TcpSocket` API as one trait, implemented for
//! `tokio::net::TcpSocket` and `SimTcpSocket` by the same macro.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A socket with tokio's `TcpSocket` API.
pub(crate) trait SocketApi: std::fmt::Debug + Send + Sync + Sized + 'static {
    type Stream;
    type Listener;

    fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()>;
    fn reuseaddr(&self) -> io::Result<bool>;
    fn set_reuseport(&self, reuseport: bool) -> io::Result<()>;
    fn reuseport(&self) -> io::Result<bool>;
    fn set_keepalive(&self, keepalive: bool) -> io::Result<()>;
    fn keepalive(&self) -> io::Result<bool>;
    fn set_send_buffer_size(&self, size: u32) -> io::Result<()>;
    fn send_buffer_size(&self) -> io::Result<u32>;
    fn set_recv_buffer_size(&self, size: u32) -> io::Result<()>;
    fn recv_buffer_size(&self) -> io::Result<u32>;
    fn set_linger(&self, linger: Option<Duration>) -> io::Result<()>;
    fn set_zero_linger(&self) -> io::Result<()>;
    fn linger(&self) -> io::Result<Option<Duration>>;
    fn tos_v4(&self) -> io::Result<u32>;
    fn set_tos_v4(&self, tos: u32) -> io::Result<()>;
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;
    fn nodelay(&self) -> io::Result<bool>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    fn bind(&self, addr: SocketAddr) -> io::Result<()>;
    fn connect(self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    fn listen(self, backlog: u32) -> io::Result<Self::Listener>;
}

macro_rules! socket_api {
    ($socket:ty, $stream:ty, $listener:ty) => {
        impl SocketApi for $socket {
            type Stream = $stream;
            type Listener = $listener;

            fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
                <$socket>::set_reuseaddr(self, reuseaddr)
            }
            fn reuseaddr(&self) -> io::Result<bool> {
                <$socket>::reuseaddr(self)
            }
            fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
                <$socket>::set_reuseport(self, reuseport)
            }
            fn reuseport(&self) -> io::Result<bool> {
                <$socket>::reuseport(self)
            }
            fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
                <$socket>::set_keepalive(self, keepalive)
            }
            fn keepalive(&self) -> io::Result<bool> {
                <$socket>::keepalive(self)
            }
            fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
                <$socket>::set_send_buffer_size(self, size)
            }
            fn send_buffer_size(&self) -> io::Result<u32> {
                <$socket>::send_buffer_size(self)
            }
            fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
                <$socket>::set_recv_buffer_size(self, size)
            }
            fn recv_buffer_size(&self) -> io::Result<u32> {
                <$socket>::recv_buffer_size(self)
            }
            #[allow(deprecated)]
            fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
                <$socket>::set_linger(self, linger)
            }
            fn set_zero_linger(&self) -> io::Result<()> {
                <$socket>::set_zero_linger(self)
            }
            fn linger(&self) -> io::Result<Option<Duration>> {
                <$socket>::linger(self)
            }
            fn tos_v4(&self) -> io::Result<u32> {
                <$socket>::tos_v4(self)
            }
            fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
                <$socket>::set_tos_v4(self, tos)
            }
            fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
                <$socket>::set_nodelay(self, nodelay)
            }
            fn nodelay(&self) -> io::Result<bool> {
                <$socket>::nodelay(self)
            }
            fn local_addr(&self) -> io::Result<SocketAddr> {
                <$socket>::local_addr(self)
            }
            fn take_error(&self) -> io::Result<Option<io::Error>> {
                <$socket>::take_error(self)
            }
            fn bind(&self, addr: SocketAddr) -> io::Result<()> {
                <$socket>::bind(self, addr)
            }
            async fn connect(self, addr: SocketAddr) -> io::Result<$stream> {
                <$socket>::connect(self, addr).await
            }
            fn listen(self, backlog: u32) -> io::Result<$listener> {
                <$socket>::listen(self, backlog)
            }
        }
    };
}

socket_api!(
    tokio::net::TcpSocket,
    tokio::net::TcpStream,
    tokio::net::TcpListener
);
socket_api!(
    moonpool_sim_net::SimTcpSocket,
    moonpool_sim_net::SimTcpStream,
    moonpool_sim_net::SimTcpListener
);
