//! One simulated TCP connection: two endpoints, each with its receive buffer
//! and its outgoing pipe (send buffer, bytes in flight, FIN state) toward the
//! other end.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::task::Waker;

use bytes::Bytes;
use tokio::time::Instant;

use super::errors::SocketError;
use super::options::SocketOptions;
use super::queue::Event;
use super::slab::Key;
use super::{Net, Path};
use crate::fault::FaultKind;
use crate::host::HostId;
use crate::instant::later;
use crate::world::Wakes;

/// Which end of a connection: the one that connected or the one that accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    pub(crate) fn other(self) -> Self {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// Lifecycle of one end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndState {
    /// The server end before the connection request reached a listener.
    Unborn,
    /// The client end waiting for the handshake reply.
    Connecting,
    /// The client end whose request was refused.
    Refused,
    /// The client end whose requests all went unanswered.
    SynTimedOut,
    /// Connected (possibly half-closed or reset; see the flags).
    Open,
    /// The socket was dropped, or its host crashed.
    Closed,
}

pub(crate) struct Endpoint {
    pub(crate) host: HostId,
    pub(crate) state: EndState,
    pub(crate) local: SocketAddr,
    /// The local port came from the host's ephemeral range (client ends).
    pub(crate) ephemeral: bool,

    // Receive side.
    pub(crate) recv: VecDeque<Bytes>,
    pub(crate) recv_bytes: usize,
    pub(crate) fin_received: bool,
    /// The connection is over for this end (`TCP_CLOSE` after a RST or a
    /// timeout): reads drain what arrived and then return `Ok(0)`, writes
    /// fail.
    pub(crate) reset: bool,
    /// The failure not reported yet (the kernel's `sk_err`).
    pub(crate) error: Option<SocketError>,
    /// A RST already went out from this end (at most one per connection end).
    pub(crate) rst_sent: bool,
    /// The tasks waiting to read (or to connect, or for read readiness).
    pub(crate) read_waker: Waiters,
    /// The tasks waiting for send-buffer room (or write readiness).
    pub(crate) write_waker: Waiters,

    // Outgoing pipe toward the other end.
    pub(crate) unsent: VecDeque<Bytes>,
    pub(crate) unsent_bytes: usize,
    pub(crate) in_flight: usize,
    /// Arrival time of the last packet sent on this pipe: a later packet never
    /// arrives before it, whatever its latency draw.
    pub(crate) last_arrival: Instant,
    pub(crate) shutdown: bool,
    pub(crate) fin_sent: bool,
    /// Our FIN reached the peer (the simulator's ACKs are instantaneous).
    pub(crate) fin_acked: bool,
    pub(crate) options: SocketOptions,

    // Faults.
    /// Packets for this end held back by a clog or partition, in order.
    pub(crate) held: VecDeque<Event>,
    /// Since when this end has held (partition) or dropped (vanished)
    /// unacknowledged data: the retransmission timer's start.
    pub(crate) held_since: Option<Instant>,
    /// Its host vanished: packets for it disappear without an answer.
    pub(crate) vanished: bool,
}

impl Endpoint {
    pub(crate) fn new(
        host: HostId,
        local: SocketAddr,
        state: EndState,
        now: Instant,
        options: SocketOptions,
    ) -> Self {
        Self {
            host,
            state,
            local,
            ephemeral: false,
            recv: VecDeque::new(),
            recv_bytes: 0,
            fin_received: false,
            reset: false,
            error: None,
            rst_sent: false,
            read_waker: Waiters::default(),
            write_waker: Waiters::default(),
            unsent: VecDeque::new(),
            unsent_bytes: 0,
            in_flight: 0,
            last_arrival: now,
            shutdown: false,
            fin_sent: false,
            fin_acked: false,
            options,
            held: VecDeque::new(),
            held_since: None,
            vanished: false,
        }
    }

    /// No socket will use this end again.
    pub(crate) fn is_dead(&self) -> bool {
        matches!(
            self.state,
            EndState::Unborn | EndState::Refused | EndState::SynTimedOut | EndState::Closed
        )
    }

    /// Throws away everything buffered in both directions: for an end no
    /// socket will read again (closed, or its host crashed).
    pub(crate) fn discard_buffers(&mut self) {
        self.recv.clear();
        self.recv_bytes = 0;
        self.discard_outgoing();
    }

    /// Throws away the bytes written but not yet sent: nothing follows a RST.
    pub(crate) fn discard_outgoing(&mut self) {
        self.unsent.clear();
        self.unsent_bytes = 0;
    }

    /// The connection failed for this end with `error` (as Linux's
    /// `tcp_reset`/`tcp_write_err`): its unsent bytes are thrown away, the
    /// bytes it received stay readable, then `error` is reported once.
    /// Nothing arrives after it, so no later byte can follow a gap.
    pub(crate) fn abort(&mut self, error: SocketError) {
        self.reset = true;
        self.error = Some(error);
        self.discard_outgoing();
    }

    /// The error a RST arriving now reports: `EPIPE` once the peer's FIN
    /// came and ours did not go (Linux's `CLOSE_WAIT`), `ECONNRESET` otherwise.
    pub(crate) fn reset_error(&self) -> SocketError {
        if self.fin_received && !self.shutdown {
            SocketError::BrokenPipe
        } else {
            SocketError::Reset
        }
    }

    /// `getpeername` fails with `ENOTCONN` once the connection is in
    /// `TCP_CLOSE`: reset, timed out, or both FINs exchanged.
    pub(crate) fn is_disconnected(&self) -> bool {
        self.reset || self.state != EndState::Open || (self.fin_received && self.fin_acked)
    }

    /// Forgets the packets held for this end, except a handshake reply: a
    /// SYN-ACK still reaches the host when the block ends, whose kernel
    /// answers it with a RST if the socket is gone.
    pub(crate) fn forget_held(&mut self) {
        self.held.retain(Event::is_handshake);
    }

    pub(crate) fn wake_all(&mut self, wakes: &mut Wakes) {
        wakes.push(self.read_waker.take());
        wakes.push(self.write_waker.take());
    }
}

pub(crate) struct Connection {
    /// The address the client asked for.
    pub(crate) target: SocketAddr,
    /// The host that address resolved to when connecting (None: unknown).
    pub(crate) dest: Option<HostId>,
    pub(crate) ends: [Endpoint; 2],
    /// Exempt from random faults ([`SimTcpStream::mark_stable`](crate::SimTcpStream::mark_stable)).
    pub(crate) stable: bool,
    /// Connection requests sent so far (the first, then retransmissions).
    pub(crate) syn_attempts: u32,
}

impl Connection {
    pub(crate) fn end(&self, side: Side) -> &Endpoint {
        match side {
            Side::Client => &self.ends[0],
            Side::Server => &self.ends[1],
        }
    }

    pub(crate) fn end_mut(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::Client => &mut self.ends[0],
            Side::Server => &mut self.ends[1],
        }
    }

    /// (this end, the other end).
    pub(crate) fn pair_mut(&mut self, side: Side) -> (&mut Endpoint, &mut Endpoint) {
        let [client, server] = &mut self.ends;
        match side {
            Side::Client => (client, server),
            Side::Server => (server, client),
        }
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.ends.iter().all(Endpoint::is_dead)
    }

    /// The path of packets sent by the `from` end.
    pub(crate) fn path(&self, from: Side) -> Path {
        let (me, peer) = (self.end(from), self.end(from.other()));
        Path {
            src: me.host,
            dst: peer.host,
            from: me.local,
            to: peer.local,
        }
    }
}

/// The tasks waiting on one direction of an end. Usually one (a read, a
/// write), but tokio lets several tasks await `readable()` or `writable()`
/// of one stream at once: every one is woken by the next change, and those
/// that find nothing wait again.
#[derive(Default)]
pub(crate) struct Waiters(Vec<Waker>);

impl Waiters {
    /// Whether some task waits.
    pub(crate) fn is_waiting(&self) -> bool {
        !self.0.is_empty()
    }

    /// Takes every waiting task's waker, to be woken.
    pub(crate) fn take(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.0)
    }

    /// Forgets every waiting task (their socket is gone).
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// Adds `waker` to `slot` unless it already wakes the same task.
pub(crate) fn store_waker(slot: &mut Waiters, waker: &Waker) {
    if !slot.0.iter().any(|old| old.will_wake(waker)) {
        slot.0.push(waker.clone());
    }
}

/// Puts as many unsent bytes of `from`'s pipe on the wire as the receiver's
/// window allows, then the FIN if the pipe is shut down and drained.
pub(crate) fn transmit(
    conn: &mut Connection,
    key: Key,
    from: Side,
    net: &mut Net,
    now: Instant,
    wakes: &mut Wakes,
) {
    let path = conn.path(from);
    let lossy = net.faults.active
        && net.faults.config.loss.enabled
        && !conn.stable
        && !net.faults.is_stable(path.src, path.dst);
    let (me, peer) = conn.pair_mut(from);
    let to = from.other();
    let mut window = peer
        .options
        .recv_buffer
        .saturating_sub(me.in_flight + peer.recv_bytes);
    while window > 0 {
        let Some(front) = me.unsent.front_mut() else {
            break;
        };
        let len = front.len().min(window).min(net.config.max_segment_size);
        let segment = if len == front.len() {
            match me.unsent.pop_front() {
                Some(segment) => segment,
                None => break,
            }
        } else {
            front.split_to(len)
        };
        me.unsent_bytes -= len;
        me.in_flight += len;
        window -= len;
        if lossy && path.src != path.dst {
            // A lost transmission is retransmitted after a timeout: the
            // segment, and everything behind it, arrives that much later.
            let (delay, losses) = net.faults.loss_delay();
            for _ in 0..losses {
                net.fault(now, FaultKind::Loss, path.from, path.to);
            }
            if delay > net.faults.config.connection_timeout {
                let at = later(now, net.faults.config.connection_timeout);
                net.schedule(
                    at,
                    Event::Expire {
                        conn: key,
                        to,
                        always: true,
                    },
                    wakes,
                );
            }
            me.last_arrival = me.last_arrival.max(later(now, delay));
        }
        let at = net.segment_arrival(now, &mut me.last_arrival, path, segment.len());
        net.schedule(
            at,
            Event::Data {
                conn: key,
                to,
                data: segment,
            },
            wakes,
        );
    }
    if me.shutdown && !me.fin_sent && me.unsent_bytes == 0 && !me.reset {
        me.fin_sent = true;
        let at = net.arrival(now, &mut me.last_arrival, path);
        net.schedule(at, Event::Fin { conn: key, to }, wakes);
    }
}

/// Sends a RST from `from` to the other end, after what is already in flight,
/// and throws away `from`'s unsent bytes (they would follow the RST). The
/// bytes `from` received stay: whether `from` itself is reset (or closed) is
/// its caller's decision, and only then may they go ([`Endpoint::abort`]).
pub(crate) fn send_reset(
    conn: &mut Connection,
    key: Key,
    from: Side,
    net: &mut Net,
    now: Instant,
    wakes: &mut Wakes,
) {
    let path = conn.path(from);
    let me = conn.end_mut(from);
    if me.rst_sent {
        return;
    }
    me.rst_sent = true;
    if me.unsent_bytes > 0 {
        // Their room in the send buffer is free again: a writer waiting
        // for it goes on (and learns what the connection became).
        wakes.push(me.write_waker.take());
    }
    me.discard_outgoing();
    let at = net.arrival(now, &mut me.last_arrival, path);
    net.schedule(
        at,
        Event::Rst {
            conn: key,
            to: from.other(),
        },
        wakes,
    );
}
