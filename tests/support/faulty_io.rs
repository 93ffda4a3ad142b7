//! Scripted connection faults for peer simulations: a connector whose
//! streams each carry at most one fault, drawn from the iteration's seed.
//!
//! Until the simulator's fault catalogue (`FaultConfig`) is wired into the
//! runner, this is how the peer scenarios meet corrupted bytes, half-open
//! connections, stalled writes and resets. Each fault stands for one the
//! catalogue injects in the fabric:
//!
//! | fault | stands for | what the peer should do |
//! | --- | --- | --- |
//! | [`Fault::FlipSent`] | a bit flip on the way out | the remote's checksum fails; it closes, we resend |
//! | [`Fault::FlipReceived`] | a bit flip on the way in | our checksum fails; we close and resend |
//! | [`Fault::FlipReceivedLength`] | a bit flip in a length field, which no checksum covers | the frame boundary is lost; the connection must still fail |
//! | [`Fault::HalfOpen`] | a vanished remote or a black hole | nothing arrives: the ping times out |
//! | [`Fault::StallWrites`] | a clogged link | writes wait; the queue fills; `poll_ready` waits |
//! | [`Fault::Reset`] | a random close | reads and writes fail; we reconnect |

#![allow(dead_code)] // Each test target uses a part of the support modules.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use moonpool_sim_net::{SimConnector, SimTcpStream, sometimes};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use super::wire_audit::WrittenFrames;

/// The fault one connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// No fault.
    None,
    /// One bit of one written byte is flipped, outside the frame's length
    /// field: the remote's checksum fails.
    FlipSent,
    /// One bit of one received byte is flipped, outside the frame's length
    /// field: our checksum fails.
    FlipReceived,
    /// One bit of a received frame's length field is flipped (the checksum
    /// does not cover it): the frame seems longer or shorter than it is.
    FlipReceivedLength,
    /// From the trigger on, nothing is received and writes vanish.
    HalfOpen,
    /// Writes wait this long at the trigger.
    StallWrites(Duration),
    /// From the trigger on, reads fail with `ConnectionReset` and writes with
    /// `BrokenPipe`.
    Reset,
}

impl Fault {
    /// The `sometimes!` name recording that this fault was injected.
    fn name(self) -> &'static str {
        match self {
            Self::None => "no fault",
            Self::FlipSent => "fault injected: bit flip sent",
            Self::FlipReceived => "fault injected: bit flip received",
            Self::FlipReceivedLength => "fault injected: bit flip in a received length field",
            Self::HalfOpen => "fault injected: half-open connection",
            Self::StallWrites(_) => "fault injected: write stall",
            Self::Reset => "fault injected: connection reset",
        }
    }
}

/// The kinds of [`Fault`] a [`FaultMix`] draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    FlipSent,
    FlipReceived,
    FlipReceivedLength,
    HalfOpen,
    StallWrites,
    Reset,
}

/// How often each fault is drawn, per connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FaultMix {
    /// Probability that a connection carries a fault at all.
    pub(crate) probability: f64,
    /// The faults drawn from, uniformly.
    pub(crate) kinds: &'static [FaultKind],
    /// The trigger is drawn uniformly in this many milliseconds after the
    /// connection is established.
    pub(crate) trigger_within_ms: u64,
    /// Longest write stall.
    pub(crate) max_stall: Duration,
}

impl FaultMix {
    /// No faults.
    pub(crate) const QUIET: Self = Self {
        probability: 0.0,
        kinds: &[],
        trigger_within_ms: 1,
        max_stall: Duration::ZERO,
    };

    /// Every other connection faulty, within 3 s of its start; stalls up to
    /// 1.5 s (beyond the ping interval, below the ping timeout).
    pub(crate) const CHAOS: Self = Self {
        probability: 0.5,
        kinds: &[
            FaultKind::FlipSent,
            FaultKind::FlipReceived,
            FaultKind::FlipReceivedLength,
            FaultKind::HalfOpen,
            FaultKind::StallWrites,
            FaultKind::Reset,
        ],
        trigger_within_ms: 3000,
        max_stall: Duration::from_millis(1500),
    };

    /// Every connection gets one bit of a received length field flipped.
    pub(crate) const LENGTH_FLIPS: Self = Self {
        probability: 1.0,
        kinds: &[FaultKind::FlipReceivedLength],
        trigger_within_ms: 1000,
        max_stall: Duration::ZERO,
    };

    fn draw(&self, rng: &mut StdRng) -> Fault {
        if self.kinds.is_empty() || !rng.random_bool(self.probability) {
            return Fault::None;
        }
        match self.kinds[rng.random_range(0..self.kinds.len())] {
            FaultKind::FlipSent => Fault::FlipSent,
            FaultKind::FlipReceived => Fault::FlipReceived,
            FaultKind::FlipReceivedLength => Fault::FlipReceivedLength,
            FaultKind::HalfOpen => Fault::HalfOpen,
            FaultKind::StallWrites => {
                Fault::StallWrites(rng.random_range(Duration::from_millis(50)..=self.max_stall))
            }
            FaultKind::Reset => Fault::Reset,
        }
    }
}

/// Follows frame boundaries in one direction of a stream not corrupted yet,
/// so that a flip can avoid, or aim at, a frame's 4-byte length field.
#[derive(Debug, Clone, Copy, Default)]
struct FrameCursor {
    /// Bytes of the current frame seen so far.
    offset: usize,
    length_field: [u8; 4],
}

impl FrameCursor {
    fn in_length_field(&self) -> bool {
        self.offset < 4
    }

    fn advance(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.offset < 4 {
                self.length_field[self.offset] = byte;
            }
            self.offset += 1;
            let len = u32::from_le_bytes(self.length_field) as usize;
            if self.offset >= 4 && self.offset >= len {
                *self = Self::default();
            }
        }
    }

    /// Indices of `bytes` inside (`length`) or outside length fields.
    fn positions(&self, bytes: &[u8], length: bool) -> Vec<usize> {
        let mut cursor = *self;
        let mut positions = Vec::new();
        for (index, byte) in bytes.iter().enumerate() {
            if cursor.in_length_field() == length {
                positions.push(index);
            }
            cursor.advance(std::slice::from_ref(byte));
        }
        positions
    }
}

/// A connector (a `tower::Service<SocketAddr>`) of [`FaultyStream`]s: each
/// connection draws its fault and trigger from one seeded stream, in
/// connection order, so a seed replays the same faults.
#[derive(Clone)]
pub(crate) struct FaultyConnector {
    inner: SimConnector,
    mix: FaultMix,
    rng: Arc<Mutex<StdRng>>,
    /// Every connection attempt, when it started.
    attempts: Arc<Mutex<Vec<Instant>>>,
}

impl FaultyConnector {
    /// Connects through `inner`, faults drawn with `mix` from `rng`.
    pub(crate) fn new(inner: SimConnector, mix: FaultMix, rng: StdRng) -> Self {
        Self {
            inner,
            mix,
            rng: Arc::new(Mutex::new(rng)),
            attempts: Arc::default(),
        }
    }

    /// The start of every connection attempt so far (simulated time).
    pub(crate) fn attempts(&self) -> Vec<Instant> {
        self.attempts.lock().unwrap().clone()
    }
}

impl tower::Service<SocketAddr> for FaultyConnector {
    type Response = FaultyStream<SimTcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, to: SocketAddr) -> Self::Future {
        self.attempts.lock().unwrap().push(Instant::now());
        let connect = self.inner.clone().oneshot(to);
        let (mix, rng) = (self.mix, self.rng.clone());
        Box::pin(async move {
            let stream = connect.await?;
            // Drawn once connected, so refused attempts draw nothing.
            let mut rng = rng.lock().unwrap();
            let fault = mix.draw(&mut rng);
            let trigger = Duration::from_millis(rng.random_range(0..mix.trigger_within_ms));
            Ok(FaultyStream {
                inner: stream,
                fault,
                at: Instant::now() + trigger,
                done: false,
                stall: None,
                sent: FrameCursor::default(),
                audit: WrittenFrames::default(),
                received: FrameCursor::default(),
                rng: StdRng::seed_from_u64(rng.random()),
            })
        })
    }
}

/// A stream that injects its one [`Fault`] from its trigger instant on.
pub(crate) struct FaultyStream<S> {
    inner: S,
    fault: Fault,
    at: Instant,
    /// A one-shot fault (flip, stall) has happened.
    done: bool,
    stall: Option<Pin<Box<Sleep>>>,
    rng: StdRng,
    /// Frame boundaries of what was written and read so far.
    sent: FrameCursor,
    /// What the peer wrote, until a flip corrupts it.
    audit: WrittenFrames,
    received: FrameCursor,
}

impl<S> FaultyStream<S> {
    /// The fault, if its trigger has passed and it still applies.
    fn active(&self) -> Option<Fault> {
        (self.fault != Fault::None && !self.done && Instant::now() >= self.at).then_some(self.fault)
    }

    fn injected(&mut self, one_shot: bool) {
        if !self.done {
            sometimes!(true, self.fault.name());
        }
        self.done = one_shot;
    }

    /// Waits out a write stall; `Ready` once there is none (left).
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(Fault::StallWrites(length)) = self.active() {
            let stall = self
                .stall
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(length)));
            if stall.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.injected(true);
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FaultyStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.active() {
            Some(Fault::HalfOpen) => {
                self.injected(false);
                // Nothing ever arrives; the reader is never woken by us.
                return Poll::Pending;
            }
            Some(Fault::Reset) => {
                self.injected(false);
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            _ => {}
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let fresh = &mut buf.filled_mut()[before..];
        let length = match self.active() {
            Some(Fault::FlipReceived) => Some(false),
            Some(Fault::FlipReceivedLength) => Some(true),
            _ => None,
        };
        if let Some(length) = length {
            let positions = self.received.positions(fresh, length);
            if !positions.is_empty() {
                let index = positions[self.rng.random_range(0..positions.len())];
                fresh[index] ^= 1 << self.rng.random_range(0..8u8);
                self.injected(true);
            }
        }
        if matches!(self.fault, Fault::FlipReceived | Fault::FlipReceivedLength) && !self.done {
            self.received.advance(fresh);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FaultyStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.active() {
            Some(Fault::HalfOpen) => {
                self.injected(false);
                self.audit.accepted(buf);
                return Poll::Ready(Ok(buf.len()));
            }
            Some(Fault::Reset) => {
                self.injected(false);
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            Some(Fault::FlipSent) => {
                let positions = self.sent.positions(buf, false);
                if !positions.is_empty() {
                    let index = positions[self.rng.random_range(0..positions.len())];
                    let mut flipped = buf.to_vec();
                    flipped[index] ^= 1 << self.rng.random_range(0..8u8);
                    let result = Pin::new(&mut self.inner).poll_write(cx, &flipped);
                    match result {
                        // Flipped only if the byte was among those accepted.
                        Poll::Ready(Ok(n)) if index < n => self.injected(true),
                        Poll::Ready(Ok(n)) => {
                            self.sent.advance(&buf[..n]);
                            self.audit.accepted(&buf[..n]);
                        }
                        _ => {}
                    }
                    return result;
                }
            }
            _ => {}
        }
        if self.poll_stall(cx).is_pending() {
            return Poll::Pending;
        }
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            if self.fault == Fault::FlipSent && !self.done {
                self.sent.advance(&buf[..n]);
            }
            if !(self.fault == Fault::FlipSent && self.done) {
                self.audit.accepted(&buf[..n]);
            }
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.active() {
            Some(Fault::HalfOpen) => return Poll::Ready(Ok(())),
            Some(Fault::Reset) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            _ => {}
        }
        if self.poll_stall(cx).is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
