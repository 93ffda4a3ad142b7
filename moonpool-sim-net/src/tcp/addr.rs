//! Addresses sockets accept: socket addresses, `(ip, port)` pairs, and
//! `"ip:port"` / `"host-name:port"` strings resolved through the host table.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::host::HostContext;
use crate::net::errors;

/// Something that names a simulated socket address, like tokio's
/// `ToSocketAddrs`: `SocketAddr`, `SocketAddrV4`, `(Ipv4Addr, u16)`,
/// `(IpAddr, u16)`, `(&str, u16)`, `&str` and `String` (`"10.0.0.1:80"`,
/// or `"server:80"` with a host name of the simulation, or `"localhost:80"`).
///
/// A slice of socket addresses names several; `connect` and `bind` try them
/// in turn, as tokio's do.
pub trait ToSimAddr {
    /// Resolves to one socket address (the first, for several); `lookup`
    /// maps host names to addresses.
    fn to_sim_addr(&self, lookup: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr>;

    /// Resolves to every address named, in order.
    fn to_sim_addrs(
        &self,
        lookup: &dyn Fn(&str) -> Option<Ipv4Addr>,
    ) -> io::Result<Vec<SocketAddr>> {
        self.to_sim_addr(lookup).map(|addr| vec![addr])
    }
}

impl ToSimAddr for [SocketAddr] {
    fn to_sim_addr(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        self.first().copied().ok_or_else(errors::no_address)
    }

    fn to_sim_addrs(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl ToSimAddr for SocketAddrV6 {
    fn to_sim_addr(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V6(*self))
    }
}

impl ToSimAddr for (Ipv6Addr, u16) {
    fn to_sim_addr(&self, _: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(*self))
    }
}

impl ToSimAddr for (String, u16) {
    fn to_sim_addr(&self, lookup: &dyn Fn(&str) -> Option<Ipv4Addr>) -> io::Result<SocketAddr> {
        (self.0.as_str(), self.1).to_sim_addr(lookup)
    }
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

    fn to_sim_addrs(
        &self,
        lookup: &dyn Fn(&str) -> Option<Ipv4Addr>,
    ) -> io::Result<Vec<SocketAddr>> {
        (**self).to_sim_addrs(lookup)
    }
}

/// Resolves every address `addr` names with the host table of `ctx`'s
/// simulation; `InvalidInput` if it names none.
pub(crate) fn resolve_all<A: ToSimAddr + ?Sized>(
    ctx: &HostContext,
    addr: &A,
) -> io::Result<Vec<SocketAddr>> {
    let addrs = {
        let world = ctx.shared.lock();
        addr.to_sim_addrs(&|name| world.hosts.lookup(name))?
    };
    if addrs.is_empty() {
        return Err(errors::no_address());
    }
    Ok(addrs)
}
