//! Where endpoints live: network addresses and endpoints.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::Uid;

/// The address of a node, as FoundationDB's `NetworkAddress`: an IP, a port,
/// and flags describing how to reach it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NetworkAddress {
    /// The IP address.
    pub ip: IpAddr,
    /// The port.
    pub port: u16,
    /// A bit set of [`NetworkAddress::FLAG_TLS`] and
    /// [`NetworkAddress::FLAG_PUBLIC`]. Other bits are kept, compared and
    /// serialized, but `Display` shows only these two, so only these two
    /// survive a round trip through text.
    pub flags: u16,
}

impl NetworkAddress {
    /// The node is reached over TLS. Written `:tls` after the port.
    pub const FLAG_TLS: u16 = 1;
    /// The address is the node's public one (as opposed to a local alias).
    /// Written `:public` after the port.
    pub const FLAG_PUBLIC: u16 = 2;

    /// An address with no flags.
    pub const fn new(ip: IpAddr, port: u16) -> Self {
        Self { ip, port, flags: 0 }
    }

    /// This address with `flags` set.
    pub const fn with_flags(mut self, flags: u16) -> Self {
        self.flags = flags;
        self
    }

    /// Whether the node is reached over TLS.
    pub const fn is_tls(&self) -> bool {
        self.flags & Self::FLAG_TLS != 0
    }

    /// Whether this is the node's public address.
    pub const fn is_public(&self) -> bool {
        self.flags & Self::FLAG_PUBLIC != 0
    }

    /// The socket address to connect to.
    pub const fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

impl From<SocketAddr> for NetworkAddress {
    fn from(addr: SocketAddr) -> Self {
        Self::new(addr.ip(), addr.port())
    }
}

impl From<NetworkAddress> for SocketAddr {
    fn from(addr: NetworkAddress) -> Self {
        addr.socket_addr()
    }
}

impl fmt::Display for NetworkAddress {
    /// `1.2.3.4:4500`, `[::1]:4500`, with `:tls` and `:public` suffixes for
    /// the flags, the form [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.socket_addr())?;
        if self.is_tls() {
            f.write_str(":tls")?;
        }
        if self.is_public() {
            f.write_str(":public")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NetworkAddress {
    /// The `Display` form, followed by `:flags=0x…` when bits other than
    /// the two named ones are set, so that two unequal addresses never look
    /// alike in a log or a failed assertion.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)?;
        let other = self.flags & !(Self::FLAG_TLS | Self::FLAG_PUBLIC);
        if other != 0 {
            write!(f, ":flags={:#06x}", self.flags)?;
        }
        Ok(())
    }
}

/// A string that is not a [`NetworkAddress`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network address {input:?}: {reason}")]
pub struct AddressParseError {
    /// The text that was parsed.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl FromStr for NetworkAddress {
    type Err = AddressParseError;

    /// Reads `IP:PORT` optionally followed by `:tls` and/or `:public`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason| AddressParseError {
            input: s.to_owned(),
            reason,
        };
        let mut rest = s;
        let mut flags = 0;
        loop {
            if let Some(stripped) = rest.strip_suffix(":tls") {
                if flags & Self::FLAG_TLS != 0 {
                    return Err(error("`:tls` given twice"));
                }
                flags |= Self::FLAG_TLS;
                rest = stripped;
            } else if let Some(stripped) = rest.strip_suffix(":public") {
                if flags & Self::FLAG_PUBLIC != 0 {
                    return Err(error("`:public` given twice"));
                }
                flags |= Self::FLAG_PUBLIC;
                rest = stripped;
            } else {
                break;
            }
        }
        let addr: SocketAddr = rest
            .parse()
            .map_err(|_| error("expected IP:PORT, with [ ] around an IPv6 address"))?;
        Ok(Self::from(addr).with_flags(flags))
    }
}

/// A named endpoint on a node: where it is and the token it answers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Endpoint {
    /// The node serving the endpoint.
    pub address: NetworkAddress,
    /// The endpoint's token on that node.
    pub token: Uid,
}

impl Endpoint {
    /// The endpoint `token` at `address`.
    pub const fn new(address: NetworkAddress, token: Uid) -> Self {
        Self { address, token }
    }

    /// Method `index` of the interface whose base endpoint is `self`
    /// (see [`Uid::adjusted`]).
    pub const fn adjusted(&self, index: u32) -> Self {
        Self {
            address: self.address,
            token: self.token.adjusted(index),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.token, self.address)
    }
}
