//! Socket options of `SimTcpStream`, with tokio's getters and setters.

use std::io;
use std::time::Duration;

use super::SimTcpStream;
use crate::net::errors;
use crate::net::options::checked_ttl;

impl SimTcpStream {
    /// `TCP_NODELAY`, as set by [`set_nodelay`](Self::set_nodelay)
    /// (`false` by default, as on Linux).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.with_end(|end| Ok(end.options.nodelay))
    }

    /// Sets `TCP_NODELAY`. Kept to be read back: the simulated network has
    /// no Nagle delay either way.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.with_end(|end| {
            end.options.nodelay = nodelay;
            Ok(())
        })
    }

    /// `TCP_QUICKACK` (`true` on a fresh connection, as on Linux; unlike
    /// Linux, traffic never turns it off here).
    pub fn quickack(&self) -> io::Result<bool> {
        self.with_end(|end| Ok(end.options.quickack))
    }

    /// Sets `TCP_QUICKACK`. Kept to be read back: the simulator's ACKs are
    /// instantaneous either way.
    pub fn set_quickack(&self, quickack: bool) -> io::Result<()> {
        self.with_end(|end| {
            end.options.quickack = quickack;
            Ok(())
        })
    }

    /// `SO_LINGER`: `None` (the default) or the linger time.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.with_end(|end| Ok(end.options.linger))
    }

    /// Sets `SO_LINGER`. A zero linger makes dropping the stream reset the
    /// connection (RST) instead of closing it (FIN), as on Linux. A non-zero
    /// linger does not block the drop here (Linux would block the thread).
    #[deprecated = "`SO_LINGER` causes the socket to block the thread on drop"]
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.with_end(|end| {
            end.options.linger = dur;
            Ok(())
        })
    }

    /// Sets a zero linger: dropping the stream resets the connection.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.with_end(|end| {
            end.options.linger = Some(Duration::ZERO);
            Ok(())
        })
    }

    /// `IP_TTL` (64 by default, see
    /// [`NetConfig::default_ttl`](crate::NetConfig::default_ttl)).
    pub fn ttl(&self) -> io::Result<u32> {
        self.with_end(|end| Ok(end.options.ttl))
    }

    /// Sets `IP_TTL`: 1 ..= 255, or `u32::MAX` (-1 to the kernel) for the
    /// default; anything else is `InvalidInput`, as on Linux. Kept to be
    /// read back: the simulated network has no hop limit.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let default = self.shared.lock().net.config.default_ttl;
        let ttl = checked_ttl(ttl, default)
            .ok_or_else(|| errors::invalid_input("TTL must be 1 ..= 255"))?;
        self.with_end(|end| {
            end.options.ttl = ttl;
            Ok(())
        })
    }
}
