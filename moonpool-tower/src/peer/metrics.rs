//! Counters a peer keeps, and the snapshot users read.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::error::FailureCause;

/// What a peer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum PeerState {
    /// No connection and nothing to send: waiting for work.
    #[default]
    Idle,
    /// Waiting out a reconnection delay after a failure.
    Backoff,
    /// Connecting or handshaking.
    Connecting,
    /// A connection is established.
    Connected,
    /// Shut down: nothing more is accepted.
    Closed,
}

impl PeerState {
    const fn to_u8(self) -> u8 {
        match self {
            Self::Idle => 0,
            Self::Backoff => 1,
            Self::Connecting => 2,
            Self::Connected => 3,
            Self::Closed => 4,
        }
    }

    const fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Backoff,
            2 => Self::Connecting,
            3 => Self::Connected,
            4 => Self::Closed,
            _ => Self::Idle,
        }
    }
}

/// Connection endings counted by cause (see
/// [`ConnectionError`](super::ConnectionError)). Failed attempts count
/// as well as established connections that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCounts {
    /// The connector failed.
    pub connect: u64,
    /// The connector timed out.
    pub connect_timeout: u64,
    /// The handshake failed (other than a version mismatch).
    pub handshake: u64,
    /// The remote's protocol version is incompatible.
    pub incompatible_version: u64,
    /// A frame could not be decoded (checksum, length) or broke the protocol.
    pub decode: u64,
    /// Reading or writing failed.
    pub io: u64,
    /// The remote closed the connection.
    pub closed: u64,
    /// A ping went unanswered: presumed half-open.
    pub ping_timeout: u64,
    /// No frame completed while one was arriving: the stream lost its frame
    /// boundaries.
    pub frame_stalled: u64,
    /// Another connection to the same remote took its place.
    pub replaced: u64,
    /// Closed for idleness.
    pub idle: u64,
    /// Closed by shutdown.
    pub shutdown: u64,
    /// Closed at a local user's request.
    pub closed_locally: u64,
}

impl FailureCounts {
    /// The count for one cause.
    pub const fn get(&self, cause: FailureCause) -> u64 {
        match cause {
            FailureCause::Connect => self.connect,
            FailureCause::ConnectTimeout => self.connect_timeout,
            FailureCause::Handshake => self.handshake,
            FailureCause::IncompatibleVersion => self.incompatible_version,
            FailureCause::Decode => self.decode,
            FailureCause::Io => self.io,
            FailureCause::Closed => self.closed,
            FailureCause::PingTimeout => self.ping_timeout,
            FailureCause::FrameStalled => self.frame_stalled,
            FailureCause::Replaced => self.replaced,
            FailureCause::Idle => self.idle,
            FailureCause::Shutdown => self.shutdown,
            FailureCause::ClosedLocally => self.closed_locally,
        }
    }

    /// All causes together.
    pub const fn total(&self) -> u64 {
        self.connect
            + self.connect_timeout
            + self.handshake
            + self.incompatible_version
            + self.decode
            + self.io
            + self.closed
            + self.ping_timeout
            + self.frame_stalled
            + self.replaced
            + self.idle
            + self.shutdown
            + self.closed_locally
    }
}

/// A snapshot of a peer's counters ([`Peer::metrics`](super::Peer::metrics)).
///
/// Bytes are those of whole frames, header included: application, ping and
/// pong frames (the handshake frames are not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerMetrics {
    /// Frame bytes handed to connections.
    pub bytes_sent: u64,
    /// Frame bytes received.
    pub bytes_received: u64,
    /// Application packets handed to connections (resends count again).
    pub packets_sent: u64,
    /// Application packets received and delivered to the inbound handler.
    pub packets_received: u64,
    /// Connections established (handshake completed), either direction.
    pub connections: u64,
    /// Connection endings by cause.
    pub failures: FailureCounts,
    /// Unreliable packets discarded unsent because a connection ended.
    pub unreliable_discarded: u64,
    /// Packets refused by `call` because they came without a reserved queue
    /// slot and too many such packets waited
    /// ([`PeerError::Overloaded`](super::PeerError::Overloaded)).
    pub unreserved_refused: u64,
    /// What the peer is doing now.
    pub state: PeerState,
    /// Packets waiting to be written.
    pub queue_depth: u64,
    /// Reliable packets held until acknowledged (cancelled) by the sender.
    pub reliable_outstanding: u64,
}

const CAUSES: usize = 13;

const fn cause_index(cause: FailureCause) -> usize {
    match cause {
        FailureCause::Connect => 0,
        FailureCause::ConnectTimeout => 1,
        FailureCause::Handshake => 2,
        FailureCause::IncompatibleVersion => 3,
        FailureCause::Decode => 4,
        FailureCause::Io => 5,
        FailureCause::Closed => 6,
        FailureCause::PingTimeout => 7,
        FailureCause::Replaced => 8,
        FailureCause::Idle => 9,
        FailureCause::Shutdown => 10,
        FailureCause::FrameStalled => 11,
        FailureCause::ClosedLocally => 12,
    }
}

/// The live counters behind [`PeerMetrics`].
#[derive(Debug, Default)]
pub(crate) struct MetricsCells {
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) packets_sent: AtomicU64,
    pub(crate) packets_received: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) unreliable_discarded: AtomicU64,
    pub(crate) unreserved_refused: AtomicU64,
    failures: [AtomicU64; CAUSES],
    state: AtomicU8,
}

impl MetricsCells {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_failure(&self, cause: FailureCause) {
        Self::add(&self.failures[cause_index(cause)], 1);
    }

    pub(crate) fn set_state(&self, state: PeerState) {
        self.state.store(state.to_u8(), Ordering::Relaxed);
    }

    pub(crate) fn state(&self) -> PeerState {
        PeerState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn snapshot(&self, queue_depth: u64, reliable_outstanding: u64) -> PeerMetrics {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let failure = |cause| load(&self.failures[cause_index(cause)]);
        PeerMetrics {
            bytes_sent: load(&self.bytes_sent),
            bytes_received: load(&self.bytes_received),
            packets_sent: load(&self.packets_sent),
            packets_received: load(&self.packets_received),
            connections: load(&self.connections),
            failures: FailureCounts {
                connect: failure(FailureCause::Connect),
                connect_timeout: failure(FailureCause::ConnectTimeout),
                handshake: failure(FailureCause::Handshake),
                incompatible_version: failure(FailureCause::IncompatibleVersion),
                decode: failure(FailureCause::Decode),
                io: failure(FailureCause::Io),
                closed: failure(FailureCause::Closed),
                ping_timeout: failure(FailureCause::PingTimeout),
                frame_stalled: failure(FailureCause::FrameStalled),
                replaced: failure(FailureCause::Replaced),
                idle: failure(FailureCause::Idle),
                shutdown: failure(FailureCause::Shutdown),
                closed_locally: failure(FailureCause::ClosedLocally),
            },
            unreliable_discarded: load(&self.unreliable_discarded),
            unreserved_refused: load(&self.unreserved_refused),
            state: self.state(),
            queue_depth,
            reliable_outstanding,
        }
    }
}
