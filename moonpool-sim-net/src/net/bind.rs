//! Ports claimed by sockets bound before they connect or listen
//! (`SimTcpSocket::bind`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::errors;
use crate::host::HostId;
use crate::world::World;

impl World {
    /// Claims `addr`'s port on `host` for a socket that will connect or
    /// listen from it; port 0 claims a free ephemeral port. Like Linux:
    /// `AddrInUse` if a listener has the port, or another socket has it and
    /// this one did not set `SO_REUSEADDR`; `AddrNotAvailable` for an
    /// address that is not the host's.
    pub(crate) fn claim_bound_port(
        &mut self,
        host: HostId,
        incarnation: u64,
        addr: SocketAddr,
        reuseaddr: bool,
    ) -> io::Result<SocketAddr> {
        let (ip, port) = self.free_local_port(host, incarnation, addr, reuseaddr)?;
        self.hosts.claim_port(host, port);
        Ok(SocketAddr::new(IpAddr::V4(ip), port))
    }

    /// The address and port a socket of `host` may take for `addr`, as
    /// Linux decides it for `bind` and `listen`: the host must be up and the
    /// address its own (or unspecified, or loopback); port 0 takes a free
    /// ephemeral port; a listener's port is `AddrInUse`, and so is a port
    /// another socket holds unless `reuseaddr`.
    pub(crate) fn free_local_port(
        &mut self,
        host: HostId,
        incarnation: u64,
        addr: SocketAddr,
        reuseaddr: bool,
    ) -> io::Result<(Ipv4Addr, u16)> {
        if !self.hosts.is_current(host, incarnation) {
            return Err(errors::host_down());
        }
        let IpAddr::V4(ip) = addr.ip() else {
            return Err(errors::addr_not_available("IPv6 is not simulated"));
        };
        let host_ip = self.hosts.ip(host);
        if !(ip.is_unspecified() || ip.is_loopback() || Some(ip) == host_ip) {
            return Err(errors::addr_not_available(
                "the address to bind is not an address of this host",
            ));
        }
        let World {
            hosts, ports, net, ..
        } = self;
        let port = match addr.port() {
            0 => hosts
                .allocate_port(host, &net.config.ephemeral_ports, |port| {
                    ports.contains_key(&(host, port))
                })
                .ok_or_else(|| errors::addr_not_available("no free ephemeral port"))?,
            port if ports.contains_key(&(host, port)) => return Err(errors::addr_in_use(port)),
            port if hosts.port_claimed(host, port) && !reuseaddr => {
                return Err(errors::addr_in_use(port));
            }
            port => port,
        };
        Ok((ip, port))
    }

    /// Gives back a port claimed by [`World::claim_bound_port`] that no
    /// connection took over.
    pub(crate) fn release_bound_port(&mut self, host: HostId, port: u16) {
        if !self.finished {
            self.hosts.release_port(host, port);
        }
    }
}
