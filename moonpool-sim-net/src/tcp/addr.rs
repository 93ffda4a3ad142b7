//! Addresses sockets accept: socket addresses, `(ip, port)` pairs, and
//! `"ip:port"` / `"host-name:port"` strings resolved through the host table.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::host::HostContext;

/// Something that names a simulated socket address, like tokio's
/// `ToSocketAddrs`: `SocketAddr`, `SocketAddrV4`, `(Ipv4Addr, u16)`,
/// `(IpAddr, u16)`, `(&str, u16)`, `&str` and `String` (`"10.0.0.1:80"`,
/// or `"server:80"` with a host name of the simulation, or `"localhost:80"`).
pub trait ToSimAddr {
    /// Resolves to one socket address; `lookup` maps host names to addresses.
    fn to_sim_addr(&self, lookup: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr>;
}

impl ToSimAddr for SocketAddr {
    fn to_sim_addr(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        Ok(*self)
    }
}

impl ToSimAddr for SocketAddrV4 {
    fn to_sim_addr(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(*self))
    }
}

impl ToSimAddr for (Ipv4Addr, u16) {
    fn to_sim_addr(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(*self))
    }
}

impl ToSimAddr for (IpAddr, u16) {
    fn to_sim_addr(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(*self))
    }
}

impl ToSimAddr for (&str, u16) {
    fn to_sim_addr(&self, lookup: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        let (host, port) = *self;
        let ip = if let Ok(ip) = host.parse::<IpAddr>() {
            ip
        } else if host == "localhost" {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(lookup(host).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no simulated host is named {host:?}"),
                )
            })?)
        };
        Ok(SocketAddr::new(ip, port))
    }
}

impl ToSimAddr for str {
    fn to_sim_addr(&self, lookup: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(addr);
        }
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{self:?} is not \"address:port\" or \"host-name:port\""),
            )
        };
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse::<u16>().map_err(|_| invalid())?;
        (host, port).to_sim_addr(lookup)
    }
}

impl ToSimAddr for String {
    fn to_sim_addr(&self, lookup: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        self.as_str().to_sim_addr(lookup)
    }
}

impl<T: ToSimAddr + ?Sized> ToSimAddr for &T {
    fn to_sim_addr(&self, lookup: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        (**self).to_sim_addr(lookup)
    }
}

/// Resolves `addr` with the host table of `ctx`'s simulation.
pub(crate) fn resolve<A: ToSimAddr + ?Sized>(
    ctx: &HostContext,
    addr: &A,
) -> io::Result<SocketAddr> {
    let world = ctx.shared.lock();
    addr.to_sim_addr(&|name| world.hosts.lookup(name))
}
