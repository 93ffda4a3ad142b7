//! The per-socket options the simulated kernel honours (`setsockopt`'s
//! state): buffer sizes, linger, TTL, and the flags kept only to be read back.

use std::time::Duration;

use crate::config::NetConfig;

/// One socket's options. A listener's options are inherited by the
/// connections it accepts, as Linux's accepted sockets inherit them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SocketOptions {
    /// Bytes the send buffer holds (written, not yet arrived).
    pub(crate) send_buffer: usize,
    /// Bytes the receive buffer holds (arrived plus in flight): the window.
    pub(crate) recv_buffer: usize,
    /// `TCP_NODELAY`: read back only (the simulator has no Nagle delay).
    pub(crate) nodelay: bool,
    /// `SO_LINGER`: `Some(ZERO)` turns the close into a RST.
    pub(crate) linger: Option<Duration>,
    /// `IP_TTL`: read back only (the simulated network has no hop limit).
    pub(crate) ttl: u32,
    /// `SO_KEEPALIVE`: read back only.
    pub(crate) keepalive: bool,
    /// `TCP_QUICKACK`: read back only (ACKs are instantaneous here).
    pub(crate) quickack: bool,
    /// `IP_TOS`: read back only.
    pub(crate) tos: u32,
}

impl SocketOptions {
    /// The options of a fresh socket under `config`.
    pub(crate) fn defaults(config: &NetConfig) -> Self {
        Self {
            send_buffer: config.send_buffer,
            recv_buffer: config.receive_window,
            nodelay: false,
            linger: None,
            ttl: config.default_ttl,
            keepalive: false,
            // Linux: a connection starts outside "pingpong" mode.
            quickack: true,
            tos: 0,
        }
    }

    /// Whether closing the socket resets the connection instead of sending FIN.
    pub(crate) fn aborts_on_close(&self) -> bool {
        self.linger == Some(Duration::ZERO)
    }
}

/// Linux's `IP_TOS` rule for a TCP socket: the low byte, without the two
/// ECN bits (the kernel keeps those for itself).
pub(crate) fn tcp_tos(tos: u32) -> u32 {
    tos & 0xfc
}

/// Linux's `IP_TTL` rule: 1 ..= 255, or -1 (`u32::MAX` through tokio's
/// `u32`) for the default; anything else is `EINVAL`.
pub(crate) fn checked_ttl(ttl: u32, default: u32) -> Option<u32> {
    match ttl {
        1..=255 => Some(ttl),
        u32::MAX => Some(default),
        _ => None,
    }
}
