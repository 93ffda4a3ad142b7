//! What can go wrong with a peer and with one of its connections.

use std::fmt;
use std::io;
use std::time::Duration;

use moonpool_codec::{NetworkAddress, Uid, WireError};
use tower::BoxError;

/// An error from [`Peer::call`](super::Peer): the packet was not accepted.
///
/// A full queue is never an error: `poll_ready` waits instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer was shut down (its transport shut down, or it was an
    /// anonymous peer whose only connection ended). Nothing more will be
    /// sent through it; for an address, ask the transport for a new peer.
    #[error("peer {} is closed", DisplayAddress(.address))]
    Closed {
        /// The remote address, `None` for an anonymous peer.
        address: Option<NetworkAddress>,
    },
    /// The packet's frame is longer than the configured maximum
    /// ([`PeerConfig::max_frame_length`](super::PeerConfig::max_frame_length)):
    /// the remote would refuse it.
    #[error("packet frame of {len} bytes exceeds the maximum of {max} bytes")]
    PacketTooLarge {
        /// The packet's frame length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The packet came without a queue slot reserved by `poll_ready` (as
    /// replies do), and the packets already waiting that way reached
    /// [`PeerConfig::unreserved_capacity`](super::PeerConfig::unreserved_capacity)
    /// or [`PeerConfig::unreserved_bytes`](super::PeerConfig::unreserved_bytes):
    /// the connection does not drain (a remote that stops reading). The
    /// packet is dropped and counted
    /// ([`PeerMetrics::unreserved_refused`](super::PeerMetrics::unreserved_refused)).
    /// Wait in `poll_ready` to be backpressured instead.
    #[error("peer {} is overloaded: {waiting} packets queued without a slot wait already", DisplayAddress(.address))]
    Overloaded {
        /// The remote address, `None` for an anonymous peer.
        address: Option<NetworkAddress>,
        /// Packets queued without a slot that are waiting to be written.
        waiting: usize,
    },
}

/// A [`ConnectionEvents`](super::ConnectionEvents) wait ended without a
/// value: the peer is gone (its last handle and its keeper were dropped),
/// so no connection event will follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the peer is gone: no connection event will follow")]
pub struct PeerGone;

struct DisplayAddress<'a>(&'a Option<NetworkAddress>);

impl fmt::Display for DisplayAddress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(address) => write!(f, "{address}"),
            None => f.write_str("(anonymous)"),
        }
    }
}

/// Why the opening handshake of a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The remote speaks a protocol this node does not: the connection is
    /// closed. Logged once per peer (at `warn`), not per attempt.
    #[error("incompatible protocol version: local {local:#018x}, remote {remote:#018x}")]
    IncompatibleVersion {
        /// Our version.
        local: u64,
        /// The version the remote announced.
        remote: u64,
    },
    /// The remote's handshake did not arrive in time.
    #[error("no handshake within {timeout:?}")]
    Timeout {
        /// The configured handshake timeout.
        timeout: Duration,
    },
    /// The connection ended before the remote's handshake arrived.
    #[error("connection closed during the handshake")]
    Closed,
    /// The remote's first frame was not a handshake.
    #[error("expected a handshake frame, got a frame for token {token}")]
    UnexpectedFrame {
        /// The token of the frame received instead.
        token: Uid,
    },
    /// The handshake payload does not have the specified layout.
    #[error("malformed handshake payload ({len} bytes): {reason}")]
    Malformed {
        /// The payload length.
        len: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Reading or writing the handshake frames failed.
    #[error("handshake i/o: {0}")]
    Wire(#[source] WireError),
}

/// Why a connection (or an attempt to open one) ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The connector failed.
    #[error("connect failed: {0}")]
    Connect(#[source] BoxError),
    /// The connector did not finish in time.
    #[error("connect did not finish within {timeout:?}")]
    ConnectTimeout {
        /// The configured connect timeout.
        timeout: Duration,
    },
    /// The opening handshake failed.
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// A frame from the remote could not be decoded (checksum mismatch,
    /// length out of bounds): the byte stream can no longer be trusted.
    #[error("decode error: {0}")]
    Decode(#[source] WireError),
    /// The remote sent a second handshake on an open connection.
    #[error("protocol violation: a handshake frame on an open connection")]
    UnexpectedHandshake,
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
    /// The remote closed the connection.
    #[error("closed by the remote")]
    Closed,
    /// Nothing was received within the ping timeout after a ping: the
    /// connection is presumed half-open.
    #[error("no pong and no data within {timeout:?} of a ping")]
    PingTimeout {
        /// The configured ping timeout.
        timeout: Duration,
    },
    /// A frame began to arrive and no frame completed for
    /// [`PeerConfig::max_frame_stall_intervals`](super::PeerConfig::max_frame_stall_intervals)
    /// ping intervals: most likely a length field corrupted in transit, so
    /// the stream has lost its frame boundaries (or a frame arrived slower
    /// than the configuration allows).
    #[error(
        "no frame completed in {waited:?} while {buffered} bytes of an unfinished frame were buffered"
    )]
    FrameStalled {
        /// How long no frame completed: the ping interval times the
        /// intervals allowed.
        waited: Duration,
        /// Bytes received that belong to no completed frame yet.
        buffered: u64,
    },
    /// Another connection to the same remote took this one's place
    /// (a reconnect by the remote, or a simultaneous connect lost).
    #[error("replaced by another connection to the same remote")]
    Replaced,
    /// Closed because the peer was idle.
    #[error("closed after being idle")]
    Idle,
    /// Closed because the transport shut down.
    #[error("closed by shutdown")]
    Shutdown,
}

impl ConnectionError {
    /// The cause, as a metrics key.
    pub fn cause(&self) -> FailureCause {
        match self {
            Self::Connect(_) => FailureCause::Connect,
            Self::ConnectTimeout { .. } => FailureCause::ConnectTimeout,
            Self::Handshake(HandshakeError::IncompatibleVersion { .. }) => {
                FailureCause::IncompatibleVersion
            }
            Self::Handshake(_) => FailureCause::Handshake,
            Self::Decode(_) | Self::UnexpectedHandshake => FailureCause::Decode,
            Self::Io(_) => FailureCause::Io,
            Self::Closed => FailureCause::Closed,
            Self::PingTimeout { .. } => FailureCause::PingTimeout,
            Self::FrameStalled { .. } => FailureCause::FrameStalled,
            Self::Replaced => FailureCause::Replaced,
            Self::Idle => FailureCause::Idle,
            Self::Shutdown => FailureCause::Shutdown,
        }
    }

    /// The error for a failed read or write of a frame.
    pub(crate) fn from_wire(error: WireError) -> Self {
        match error {
            WireError::Io(error) => Self::Io(error),
            WireError::Truncated { .. } => Self::Closed,
            other => Self::Decode(other),
        }
    }
}

/// The cause of a connection ending, for counting (see
/// [`FailureCounts`](super::FailureCounts)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureCause {
    /// [`ConnectionError::Connect`].
    Connect,
    /// [`ConnectionError::ConnectTimeout`].
    ConnectTimeout,
    /// [`ConnectionError::Handshake`], other than a version mismatch.
    Handshake,
    /// [`HandshakeError::IncompatibleVersion`].
    IncompatibleVersion,
    /// [`ConnectionError::Decode`] and [`ConnectionError::UnexpectedHandshake`].
    Decode,
    /// [`ConnectionError::Io`].
    Io,
    /// [`ConnectionError::Closed`].
    Closed,
    /// [`ConnectionError::PingTimeout`].
    PingTimeout,
    /// [`ConnectionError::FrameStalled`].
    FrameStalled,
    /// [`ConnectionError::Replaced`].
    Replaced,
    /// [`ConnectionError::Idle`].
    Idle,
    /// [`ConnectionError::Shutdown`].
    Shutdown,
}
