//! `SimTcpSocket`: a socket configured before it connects or listens, as
//! tokio's `TcpSocket`.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::connector::ConnectFuture;
use super::{SimTcpListener, SimTcpStream};
use crate::host::HostContext;
use crate::net::errors;
use crate::net::options::{SocketOptions, tcp_tos};
use crate::world::Wakes;

/// A TCP socket of the current host not yet connected or listening; use it
/// like `tokio::net::TcpSocket`: set options, optionally
/// [`bind`](Self::bind), then [`connect`](Self::connect) or
/// [`listen`](Self::listen).
///
/// The buffer sizes are real: they bound what a writer may have in flight
/// and what a reader buffers, as `SO_SNDBUF`/`SO_RCVBUF` do (Linux's rules,
/// see [`BufferLimits`](crate::BufferLimits)). The backlog of `listen` is
/// real too: a connection request that finds the accept queue full is
/// dropped and retransmitted by the client, as on Linux.
///
/// Only IPv4 is simulated: [`new_v6`](Self::new_v6) fails. Options without a
/// simulated effect (`SO_KEEPALIVE`, `SO_REUSEPORT`, `TCP_NODELAY`) are kept
/// and read back.
pub struct SimTcpSocket {
    ctx: HostContext,
    state: Mutex<SocketState>,
}

struct SocketState {
    options: SocketOptions,
    reuseaddr: bool,
    reuseport: bool,
    /// The address `bind` claimed; its port is this socket's until it
    /// connects, listens, or is dropped.
    bound: Option<SocketAddr>,
}

impl SimTcpSocket {
    /// A new IPv4 socket of the current host; `Unsupported` outside any
    /// simulated host.
    pub fn new_v4() -> io::Result<SimTcpSocket> {
        let ctx = HostContext::current().ok_or_else(errors::outside_host)?;
        let options = SocketOptions::defaults(&ctx.shared.lock().net.config);
        Ok(SimTcpSocket {
            ctx,
            state: Mutex::new(SocketState {
                options,
                reuseaddr: false,
                reuseport: false,
                bound: None,
            }),
        })
    }

    /// Fails with `Unsupported`: the simulator has IPv4 only.
    pub fn new_v6() -> io::Result<SimTcpSocket> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "moonpool-sim-net simulates IPv4 only",
        ))
    }

    fn state(&self) -> MutexGuard<'_, SocketState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets `SO_KEEPALIVE` (read back only).
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.state().options.keepalive = keepalive;
        Ok(())
    }

    /// `SO_KEEPALIVE` (`false` by default).
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(self.state().options.keepalive)
    }

    /// Sets `SO_REUSEADDR`: `bind` may then take a port another socket (not
    /// a listener) has.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.state().reuseaddr = reuseaddr;
        Ok(())
    }

    /// `SO_REUSEADDR` (`false` by default).
    pub fn reuseaddr(&self) -> io::Result<bool> {
        Ok(self.state().reuseaddr)
    }

    /// Sets `SO_REUSEPORT` (read back only: two listeners never share a port).
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.state().reuseport = reuseport;
        Ok(())
    }

    /// `SO_REUSEPORT` (`false` by default).
    pub fn reuseport(&self) -> io::Result<bool> {
        Ok(self.state().reuseport)
    }

    /// Sets `SO_SNDBUF`: the send buffer becomes twice `size` (capped and
    /// floored as Linux does, see [`BufferLimits`](crate::BufferLimits)).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        let bytes = self.ctx.shared.lock().net.config.buffer_limits.send(size);
        self.state().options.send_buffer = bytes;
        Ok(())
    }

    /// `SO_SNDBUF`: the send buffer's size in bytes.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        Ok(u32::try_from(self.state().options.send_buffer).unwrap_or(u32::MAX))
    }

    /// Sets `SO_RCVBUF`: the receive buffer (the window the peer may fill)
    /// becomes twice `size` (capped and floored as Linux does).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        let bytes = self.ctx.shared.lock().net.config.buffer_limits.recv(size);
        self.state().options.recv_buffer = bytes;
        Ok(())
    }

    /// `SO_RCVBUF`: the receive buffer's size in bytes.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        Ok(u32::try_from(self.state().options.recv_buffer).unwrap_or(u32::MAX))
    }

    /// Sets `SO_LINGER`; a zero linger makes the close of the connected
    /// stream a RST. A non-zero linger never blocks here.
    #[deprecated = "`SO_LINGER` causes the socket to block the thread on drop"]
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.state().options.linger = dur;
        Ok(())
    }

    /// Sets a zero linger: closing the connected stream resets it.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.state().options.linger = Some(Duration::ZERO);
        Ok(())
    }

    /// `SO_LINGER` (`None` by default).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self.state().options.linger)
    }

    /// Sets `TCP_NODELAY` (read back only).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.state().options.nodelay = nodelay;
        Ok(())
    }

    /// `TCP_NODELAY` (`false` by default).
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.state().options.nodelay)
    }

    /// `IP_TOS` (0 by default).
    pub fn tos_v4(&self) -> io::Result<u32> {
        Ok(self.state().options.tos)
    }

    /// Sets `IP_TOS` (read back only). As Linux does for TCP, only the low
    /// byte is kept, without its two ECN bits.
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        self.state().options.tos = tcp_tos(tos);
        Ok(())
    }

    /// The old name of [`tos_v4`](Self::tos_v4), kept as tokio keeps it.
    #[deprecated(
        note = "`tos` related methods have been renamed `tos_v4` since they are IPv4-specific."
    )]
    #[doc(hidden)]
    pub fn tos(&self) -> io::Result<u32> {
        self.tos_v4()
    }

    /// The old name of [`set_tos_v4`](Self::set_tos_v4), kept as tokio keeps it.
    #[deprecated(
        note = "`tos` related methods have been renamed `tos_v4` since they are IPv4-specific."
    )]
    #[doc(hidden)]
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        self.set_tos_v4(tos)
    }

    /// The bound address; `0.0.0.0:0` before `bind`, as Linux's
    /// `getsockname` on an unbound socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self
            .state()
            .bound
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)))
    }

    /// `SO_ERROR`: an unconnected socket has none.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }

    /// Binds to `addr` (an address of this host, `0.0.0.0` or `127.0.0.1`;
    /// port 0 picks a free ephemeral port). `AddrInUse` if a listener has
    /// the port, or another socket has it and `SO_REUSEADDR` is not set;
    /// `InvalidInput` if the socket is already bound.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let mut state = self.state();
        if state.bound.is_some() {
            return Err(errors::invalid_input("the socket is already bound"));
        }
        let bound = self.ctx.shared.lock().claim_bound_port(
            self.ctx.host,
            self.ctx.incarnation,
            addr,
            state.reuseaddr,
        )?;
        state.bound = Some(bound);
        Ok(())
    }

    /// Takes the claimed address away from `Drop`: a connection or listener
    /// now owns the port.
    fn take_bound(&self) -> (SocketOptions, Option<SocketAddr>) {
        let mut state = self.state();
        (state.options, state.bound.take())
    }

    /// Connects to `addr`, from the bound address if any, with this socket's
    /// options; errors as [`SimTcpStream::connect`].
    pub async fn connect(self, addr: SocketAddr) -> io::Result<SimTcpStream> {
        let (options, bound) = self.take_bound();
        let ctx = self.ctx.clone();
        let mut wakes = Wakes::default();
        let started = {
            let mut world = ctx.shared.lock();
            let started =
                world.connect(ctx.host, ctx.incarnation, addr, bound, options, &mut wakes);
            if started.is_err()
                && let Some(bound) = bound
            {
                world.release_bound_port(ctx.host, bound.port());
            }
            started
        };
        wakes.finish(&ctx.shared);
        ConnectFuture::started(ctx.shared.clone(), started?).await
    }

    /// Listens on the bound address (or, unbound, on every address of the
    /// host at an ephemeral port, as Linux's autobind) with room for
    /// `backlog` connections waiting for `accept` (Linux queues one more,
    /// and caps the backlog at
    /// [`NetConfig::max_listen_backlog`](crate::NetConfig::max_listen_backlog)).
    pub fn listen(self, backlog: u32) -> io::Result<SimTcpListener> {
        let (options, bound) = self.take_bound();
        let ctx = &self.ctx;
        let mut world = ctx.shared.lock();
        let addr = match bound {
            Some(bound) => {
                // The listener's port table takes the port over.
                world.release_bound_port(ctx.host, bound.port());
                bound
            }
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        };
        let backlog = usize::try_from(backlog).unwrap_or(usize::MAX);
        let (key, local) = world.bind(ctx.host, ctx.incarnation, addr, options, backlog)?;
        drop(world);
        Ok(SimTcpListener::new(ctx.shared.clone(), key, local))
    }
}

impl Drop for SimTcpSocket {
    fn drop(&mut self) {
        if let Some(bound) = self.state().bound.take() {
            self.ctx
                .shared
                .lock()
                .release_bound_port(self.ctx.host, bound.port());
        }
    }
}

impl fmt::Debug for SimTcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTcpSocket")
            .field("bound", &self.state().bound)
            .finish()
    }
}
