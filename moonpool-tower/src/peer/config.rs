//! Every number that tunes a peer, with its default and the reason for it.

use std::time::Duration;

use moonpool_codec::DEFAULT_MAX_FRAME_LENGTH;

use super::handshake::PROTOCOL_VERSION;
use crate::backoff::BackoffConfig;

/// The tunables of a [`Peer`](super::Peer). The defaults are
/// FoundationDB's (`flow/Knobs.cpp`) where FoundationDB has the knob.
///
/// Fields are public so one can be changed with struct-update syntax:
///
/// ```
/// use std::time::Duration;
/// use moonpool_tower::peer::PeerConfig;
///
/// let config = PeerConfig {
///     idle_timeout: Duration::from_secs(30),
///     ..PeerConfig::default()
/// };
/// assert_eq!(config.ping_interval, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    /// Packets accepted but not yet written to a connection before
    /// `poll_ready` applies backpressure. Default 1024: enough to keep a
    /// connection busy between two writer wake-ups, small enough that a dead
    /// peer does not hoard memory. Reliable packets that were written stay
    /// held for resending but no longer count against this bound.
    pub queue_capacity: usize,
    /// Packets accepted by a `call` without a queue slot reserved by
    /// `poll_ready` that may wait to be written at once, beyond
    /// `queue_capacity`. Such calls are how replies are sent (a reply never
    /// waits: see [`ReplyPath`](crate::endpoint::ReplyPath)), so their
    /// number is driven by the remote: one that keeps sending requests but
    /// stops reading its socket would otherwise grow this queue without
    /// bound. Beyond it, `call` refuses the packet with
    /// [`PeerError::Overloaded`](super::PeerError::Overloaded) and counts
    /// it ([`PeerMetrics::unreserved_refused`](super::PeerMetrics)); a
    /// refused reply reaches its caller as a timeout, or as
    /// `MaybeDelivered` when the connection fails. Default 4096: a few
    /// seconds of replies at a busy server's rate, waiting for a writer
    /// that is keeping up. Values below 1 count as 1.
    pub unreserved_capacity: usize,
    /// Frame bytes of the packets counted by `unreserved_capacity` that may
    /// wait at once: the bound on their memory. A packet larger than the
    /// whole budget is accepted only when no other such packet waits.
    /// Default 64 MiB (eight frames of the maximum size). Values below 1
    /// count as 1.
    pub unreserved_bytes: usize,
    /// How long a connection attempt may take before it counts as failed.
    /// Default 5 s: far above a healthy connect on any network, short enough
    /// that a black-holed address is retried.
    pub connect_timeout: Duration,
    /// How long the handshake frames may take once connected. Default 5 s,
    /// for the same reasons as `connect_timeout`: a server that accepts but
    /// never answers is given up on.
    pub handshake_timeout: Duration,
    /// The reconnection schedule: the delay before each attempt after a
    /// failure. Default [`BackoffConfig::foundationdb`]: 50 ms initial
    /// (`INITIAL_RECONNECTION_TIME`, a restarted process is found quickly),
    /// growing x1.2 per consecutive failure (`RECONNECTION_TIME_GROWTH_RATE`)
    /// up to 500 ms (`MAX_RECONNECTION_TIME`, a dead peer costs at most two
    /// attempts a second), each delay jittered by a factor in `[0.9, 1.1]`
    /// so the clients of a restarted server do not reconnect in lockstep.
    /// Checked when the transport is built.
    pub reconnect: BackoffConfig,
    /// A connection that stayed up this long restarts the reconnection
    /// schedule at its initial delay. Default 5 s (`RECONNECTION_RESET_TIME`): a
    /// flapping connection keeps backing off, a healthy one that breaks
    /// once reconnects after the initial delay of `reconnect` (50 ms,
    /// jittered, by default), not after the longer delay its earlier
    /// failures had reached. A reconnection after a connection failed
    /// always waits one delay of the schedule, so a remote that accepts
    /// and then closes at once is not dialed in a loop.
    pub reconnect_reset_after: Duration,
    /// A connection on which nothing was received for this long is pinged.
    /// Also the period at which the connection monitor checks that frames
    /// keep completing (see `max_frame_stall_intervals`). Default 1 s
    /// (`CONNECTION_MONITOR_LOOP_TIME`).
    pub ping_interval: Duration,
    /// A pinged connection on which nothing at all (pong or other bytes)
    /// arrives for this long is declared failed
    /// ([`ConnectionError::PingTimeout`](super::ConnectionError::PingTimeout)):
    /// this is how a half-open connection is noticed. Default 2 s
    /// (`CONNECTION_MONITOR_TIMEOUT`).
    pub ping_timeout: Duration,
    /// Ping intervals in a row during which a frame had begun to arrive and
    /// no frame completed before the connection is declared failed
    /// ([`ConnectionError::FrameStalled`](super::ConnectionError::FrameStalled)),
    /// whether bytes keep arriving or not. This is how a length field
    /// corrupted in transit (no checksum covers it) is noticed: the
    /// receiver then waits for a frame that never ends and swallows every
    /// later frame, pongs included, while bytes keep flowing. Such a
    /// connection fails at most `max_frame_stall_intervals + 1` ping
    /// intervals after the last frame it completed.
    ///
    /// It is also the longest a legitimate frame may take to arrive: at
    /// the default 10 (with the 1 s ping interval), a frame of the maximum
    /// size (8 MiB) needs about 0.85 MB/s. Raise it for slower links or
    /// larger frames. Default 10: noticed within 11 s rather than the hours
    /// the phantom frame's length may take to arrive. Values below 1 count
    /// as 1.
    pub max_frame_stall_intervals: u32,
    /// A peer with nothing queued, nothing awaiting acknowledgement, no
    /// received traffic and no user handle for this long closes its
    /// connection and is forgotten by its transport. Default 180 s
    /// (`CONNECTION_MONITOR_IDLE_TIMEOUT`): connections are cheap to keep and
    /// costly to reopen, so only truly unused ones are closed.
    pub idle_timeout: Duration,
    /// Pongs waiting to be written, per connection. Default 16: a remote
    /// pings once a second, so more than a few means it floods; extra pings
    /// go unanswered (the remote's own monitor sees our other traffic).
    pub max_pending_pongs: usize,
    /// Largest frame, header included, sent or accepted. Default 8 MiB
    /// ([`DEFAULT_MAX_FRAME_LENGTH`]): a larger frame from the remote is a
    /// decode error that closes the connection; a larger packet handed to the
    /// peer is refused at `call`.
    pub max_frame_length: usize,
    /// The protocol version this node announces in its handshake. Default
    /// [`PROTOCOL_VERSION`]. Two versions are compatible when they agree on
    /// the bits of [`COMPATIBLE_VERSION_MASK`](super::COMPATIBLE_VERSION_MASK).
    pub protocol_version: u64,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            unreserved_capacity: 4096,
            unreserved_bytes: 64 * 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            reconnect: BackoffConfig::foundationdb(),
            reconnect_reset_after: Duration::from_secs(5),
            ping_interval: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(2),
            max_frame_stall_intervals: 10,
            idle_timeout: Duration::from_secs(180),
            max_pending_pongs: 16,
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
            protocol_version: PROTOCOL_VERSION,
        }
    }
}
