//! The tunable numbers of [`Reconnect`](super::Reconnect).

use std::time::Duration;

/// When [`Reconnect`](super::Reconnect) considers a connection healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectConfig {
    /// How long a connection must have been up (from the moment its connect
    /// future resolved to the moment its `poll_ready` failed) to count as
    /// healthy. When a healthy connection fails, the backoff session is
    /// dropped and the next connect is attempted at once, with a fresh
    /// session for any failures after it. A connection that fails sooner
    /// counts as one more failure of the current session: the next connect
    /// waits for the next backoff delay, so a server that accepts and
    /// immediately drops connections is not hammered.
    ///
    /// Default: 5 s, FoundationDB's `RECONNECTION_RESET_TIME`: ten times the
    /// 500 ms backoff cap, long enough that a flapping peer keeps backing off.
    pub reset_after: Duration,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            reset_after: Duration::from_secs(5),
        }
    }
}
