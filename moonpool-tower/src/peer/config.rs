//! Every number that tunes a peer, with its default and the reason for it.

use std::time::Duration;

use moonpool_codec::DEFAULT_MAX_FRAME_LENGTH;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::handshake::PROTOCOL_VERSION;
use crate::backoff::BackoffConfig;
use crate::knobs::KnobDraw;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl PeerConfig {
    /// This configuration with some knobs redrawn for a simulation (see
    /// [`crate::knobs`]): each with probability
    /// [`KNOB_PROBABILITY`](crate::knobs::KNOB_PROBABILITY), log-uniformly
    /// from its range. Every range keeps the peer correct; it changes which
    /// paths run (backpressure, reconnection, failure detection), never
    /// what a workload may observe beyond timing.
    ///
    /// | knob | range | why |
    /// | --- | --- | --- |
    /// | `queue_capacity` | 1 ..= 1024 | one packet makes every call wait for `poll_ready`; the default at the top |
    /// | `unreserved_capacity` | 64 ..= 4096 | replies refused as `Overloaded` reach callers as timeouts, so the floor stays above the replies a test has in flight |
    /// | `unreserved_bytes` | 64 KiB ..= 64 MiB | likewise, in bytes |
    /// | `connect_timeout` | 100 ms ..= 10 s | above a simulated connect (a few ms), up to twice the default |
    /// | `handshake_timeout` | 250 ms ..= 10 s | above a handshake's round trips under the chaos latency, up to twice the default |
    /// | `reconnect` | see [`BackoffConfig::randomize`] | |
    /// | `reconnect_reset_after` | 100 ms ..= 30 s | from resetting the schedule after almost any connection to resetting it rarely |
    /// | `ping_interval` | 50 ms ..= 5 s | from pinging every few round trips to five times the default |
    /// | `ping_timeout` | 250 ms ..= 10 s | from failing a connection after a few slow round trips to five times the default |
    /// | `max_frame_stall_intervals` | 1 ..= 20 | from the strictest stall detection to twice the default |
    /// | `idle_timeout` | 1 s ..= 180 s | from closing idle connections within a test to the default |
    /// | `max_pending_pongs` | 1 ..= 16 | from answering one ping at a time to the default |
    ///
    /// `max_frame_length` (it bounds what a workload may send) and
    /// `protocol_version` (an identity, not a tuning) are kept.
    pub fn randomize<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let mut draw = KnobDraw::new(&mut *rng);
        draw.count(&mut self.queue_capacity, 1..=1024);
        draw.count(&mut self.unreserved_capacity, 64..=4096);
        draw.count(&mut self.unreserved_bytes, 64 * 1024..=64 * 1024 * 1024);
        draw.duration(&mut self.connect_timeout, ms(100)..=secs(10));
        draw.duration(&mut self.handshake_timeout, ms(250)..=secs(10));
        draw.duration(&mut self.reconnect_reset_after, ms(100)..=secs(30));
        draw.duration(&mut self.ping_interval, ms(50)..=secs(5));
        draw.duration(&mut self.ping_timeout, ms(250)..=secs(10));
        draw.count_u32(&mut self.max_frame_stall_intervals, 1..=20);
        draw.duration(&mut self.idle_timeout, secs(1)..=secs(180));
        draw.count(&mut self.max_pending_pongs, 1..=16);
        self.reconnect = self.reconnect.randomize(rng);
        self
    }
}
