//! The connection monitor (FoundationDB's `connectionMonitor`): it pings a
//! quiet connection and fails it if nothing at all answers, and it fails a
//! connection whose bytes stop forming frames.
//!
//! Liveness and progress are two questions. Raw bytes answer the first: a
//! half-open connection receives none, so one ping timeout without a byte
//! fails it. Only decoded frames answer the second: after a length field is
//! corrupted in transit (no checksum covers it), the decoder waits for a
//! frame that never ends and swallows everything after it, pongs included,
//! while bytes keep arriving; so a frame that has begun must complete
//! within [`PeerConfig::max_frame_stall_intervals`] ping intervals, pinged
//! or not.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;
use tracing::{debug, trace};

use super::PeerConfig;
use super::error::ConnectionError;

/// What the monitor sees of one connection's read side.
pub(super) struct ReadProgress {
    /// Raw bytes read from the socket (the wire's counter).
    received: Arc<AtomicU64>,
    /// `received` when the connection was established.
    received_at_start: u64,
    /// Bytes read but not decoded yet when the connection was established
    /// (what followed the remote's handshake frame in the same reads).
    buffered_at_start: u64,
    /// Frame bytes decoded since the connection was established.
    decoded: AtomicU64,
}

impl ReadProgress {
    /// Progress of a connection whose wire counts raw bytes in `received`
    /// and holds `buffered` bytes read but not decoded yet.
    pub(super) fn new(received: Arc<AtomicU64>, buffered: usize) -> Self {
        let received_at_start = received.load(Ordering::Relaxed);
        Self {
            received,
            received_at_start,
            buffered_at_start: buffered as u64,
            decoded: AtomicU64::new(0),
        }
    }

    /// A frame of `frame_len` bytes (header included) was decoded.
    pub(super) fn frame_decoded(&self, frame_len: usize) {
        self.decoded.fetch_add(frame_len as u64, Ordering::Relaxed);
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn decoded(&self) -> u64 {
        self.decoded.load(Ordering::Relaxed)
    }

    /// Bytes read that belong to no decoded frame yet: the part of a frame
    /// that has begun to arrive (or, for an instant, whole frames about to
    /// be decoded). The decoder consumes exactly a frame's length per frame,
    /// so this is exactly what its buffer holds.
    fn buffered(&self) -> u64 {
        (self.received() - self.received_at_start + self.buffered_at_start)
            .saturating_sub(self.decoded())
    }
}

/// Watches one connection until it must be failed; returns why. `ping`
/// queues a ping with the given nonce.
///
/// Every ping interval: a connection that received nothing during it is
/// pinged (unless a ping is already outstanding) and fails with
/// [`ConnectionError::PingTimeout`] if nothing at all arrives within the
/// ping timeout; and a connection on which a frame has begun and none
/// completed during the interval counts one stalled interval, failing with
/// [`ConnectionError::FrameStalled`] at `max_frame_stall_intervals` in a
/// row. So a stalled stream fails at most `max_frame_stall_intervals + 1`
/// intervals after its last completed frame.
pub(super) async fn watch(
    config: &PeerConfig,
    progress: &ReadProgress,
    ping: impl Fn(u64),
) -> ConnectionError {
    let interval = config.ping_interval;
    let max_stalled = config.max_frame_stall_intervals.max(1);
    let mut next_check = Instant::now() + interval;
    let mut last_received = progress.received();
    let mut last_decoded = progress.decoded();
    let mut stalled = 0u32;
    // The deadline of the outstanding ping, and the bytes received when it
    // was sent.
    let mut outstanding: Option<(Instant, u64)> = None;
    let mut nonce = 0u64;
    loop {
        let wake = outstanding.map_or(next_check, |(deadline, _)| deadline.min(next_check));
        tokio::time::sleep_until(wake).await;
        let now = Instant::now();
        let received = progress.received();
        if let Some((deadline, at_ping)) = outstanding
            && now >= deadline
        {
            if received == at_ping {
                return ConnectionError::PingTimeout {
                    timeout: config.ping_timeout,
                };
            }
            outstanding = None;
        }
        if now < next_check {
            continue;
        }
        // From now rather than from the missed instant: a late wake-up does
        // not make checks bunch up.
        next_check = now + interval;

        let decoded = progress.decoded();
        let buffered = progress.buffered();
        if decoded == last_decoded && buffered > 0 {
            stalled += 1;
            trace!(
                stalled,
                buffered, "no frame completed during a ping interval"
            );
            if stalled >= max_stalled {
                debug!(stalled, buffered, "an unfinished frame stalls the stream");
                return ConnectionError::FrameStalled {
                    waited: interval * max_stalled,
                    buffered,
                };
            }
        } else {
            stalled = 0;
        }
        if received == last_received && outstanding.is_none() {
            nonce = nonce.wrapping_add(1);
            trace!(nonce, "pinging a quiet connection");
            ping(nonce);
            outstanding = Some((now + config.ping_timeout, received));
        }
        last_received = received;
        last_decoded = decoded;
    }
}
