//! Listeners, ports, and the connection handshake: bind, accept, connect,
//! and what a connection request finds when it reaches its destination.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::{Context, Poll, Waker};

use tokio::time::Instant;
use tracing::debug;

use super::Path;
use super::connection::{Connection, EndState, Endpoint, Side, send_reset, store_waker};
use super::errors;
use super::options::SocketOptions;
use super::queue::Event;
use super::slab::Key;
use crate::fault::FaultKind;
use crate::host::HostId;
use crate::instant::later;
use crate::trace::NetEvent;
use crate::world::{Wakes, World};

/// A listening socket: its address and the connections waiting for `accept`.
pub(crate) struct Listener {
    pub(crate) host: HostId,
    pub(crate) addr: SocketAddr,
    pub(crate) backlog: VecDeque<Key>,
    /// The `listen` backlog (capped at `somaxconn`): like Linux, the queue
    /// takes one connection more than this before it is full.
    pub(crate) backlog_limit: usize,
    /// Options the accepted connections inherit (and the listener's TTL).
    pub(crate) options: SocketOptions,
    /// Every task waiting in `accept` (several may share one listener, as
    /// with tokio's `accept(&self)`); all are woken when a connection is
    /// queued, and those that find none wait again.
    pub(crate) acceptors: Vec<Waker>,
}

impl Listener {
    /// A listener bound to the unspecified address takes connections to any
    /// address of its host; one bound to an address only to that address.
    fn accepts(&self, ip: IpAddr) -> bool {
        self.addr.ip().is_unspecified() || self.addr.ip() == ip
    }

    /// Linux's `sk_acceptq_is_full`: more queued than the backlog.
    fn is_full(&self) -> bool {
        self.backlog.len() > self.backlog_limit
    }

    fn wake_acceptors(&mut self, wakes: &mut Wakes) {
        for waker in self.acceptors.drain(..) {
            wakes.push(Some(waker));
        }
    }
}

impl World {
    pub(crate) fn bind(
        &mut self,
        host: HostId,
        incarnation: u64,
        addr: SocketAddr,
        options: SocketOptions,
        backlog: usize,
    ) -> io::Result<(Key, SocketAddr)> {
        // A port held by an outgoing connection or a bound socket: neither
        // set SO_REUSEADDR, so Linux refuses the listener too.
        let (ip, port) = self.free_local_port(host, incarnation, addr, false)?;
        let local = SocketAddr::new(IpAddr::V4(ip), port);
        let backlog_limit = backlog.min(self.net.config.max_listen_backlog);
        let key = self.listeners.insert(Listener {
            host,
            addr: local,
            backlog: VecDeque::new(),
            backlog_limit,
            options,
            acceptors: Vec::new(),
        });
        self.ports.insert((host, port), key);
        debug!(%local, "listening");
        Ok((key, local))
    }

    /// Takes the next queued connection: (connection, local addr, peer addr).
    pub(crate) fn poll_accept(
        &mut self,
        listener: Key,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Key, SocketAddr, SocketAddr)>> {
        let World {
            listeners, conns, ..
        } = self;
        let Some(listener) = listeners.get_mut(listener) else {
            return Poll::Ready(Err(errors::aborted()));
        };
        while let Some(key) = listener.backlog.pop_front() {
            if let Some(conn) = conns.get(key) {
                let local = conn.end(Side::Server).local;
                let peer = conn.end(Side::Client).local;
                debug!(%local, %peer, "accepted");
                return Poll::Ready(Ok((key, local, peer)));
            }
        }
        if !listener.acceptors.iter().any(|w| w.will_wake(cx.waker())) {
            listener.acceptors.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The listener was dropped (or its host crashed): its port is free again,
    /// and queued connections nobody accepted are reset, as the kernel does.
    /// Accepted connections are not affected.
    pub(crate) fn close_listener(&mut self, key: Key, wakes: &mut Wakes) {
        if self.finished {
            return;
        }
        let Some(mut listener) = self.listeners.remove(key) else {
            return;
        };
        let slot = (listener.host, listener.addr.port());
        if self.ports.get(&slot) == Some(&key) {
            self.ports.remove(&slot);
        }
        listener.wake_acceptors(wakes);
        debug!(local = %listener.addr, unaccepted = listener.backlog.len(), "listener closed");
        let now = Instant::now();
        for conn_key in listener.backlog {
            if let Some(conn) = self.conns.get_mut(conn_key) {
                send_reset(conn, conn_key, Side::Server, &mut self.net, now, wakes);
                let server = conn.end_mut(Side::Server);
                server.state = EndState::Closed;
                server.discard_buffers();
            }
            self.free_if_dead(conn_key);
        }
    }

    /// Starts a connection: allocates the local port (or uses `bound`, a
    /// port this host already claimed for the socket) and sends the request.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn connect(
        &mut self,
        host: HostId,
        incarnation: u64,
        target: SocketAddr,
        bound: Option<SocketAddr>,
        options: SocketOptions,
        wakes: &mut Wakes,
    ) -> io::Result<Key> {
        if !self.hosts.is_current(host, incarnation) {
            return Err(errors::host_down());
        }
        let IpAddr::V4(mut ip) = target.ip() else {
            return Err(errors::addr_not_available("IPv6 is not simulated"));
        };
        if ip.is_unspecified() {
            ip = Ipv4Addr::LOCALHOST;
        }
        let target = SocketAddr::new(IpAddr::V4(ip), target.port());
        let own_ip = self.hosts.ip(host).unwrap_or(Ipv4Addr::UNSPECIFIED);
        let (dest, local_ip) = if ip.is_loopback() {
            (Some(host), ip)
        } else if ip == own_ip {
            (Some(host), own_ip)
        } else {
            (self.hosts.by_ip(ip), own_ip)
        };
        let World {
            hosts, ports, net, ..
        } = self;
        let (local_ip, port) = match bound {
            Some(bound) => {
                let ip = match bound.ip() {
                    IpAddr::V4(ip) if !ip.is_unspecified() => ip,
                    _ => local_ip,
                };
                (ip, bound.port())
            }
            None => {
                let port = hosts
                    .allocate_port(host, &net.config.ephemeral_ports, |port| {
                        ports.contains_key(&(host, port))
                    })
                    .ok_or_else(|| errors::addr_not_available("no free ephemeral port"))?;
                hosts.claim_port(host, port);
                (local_ip, port)
            }
        };
        let now = Instant::now();
        let local = SocketAddr::new(IpAddr::V4(local_ip), port);
        let mut client = Endpoint::new(host, local, EndState::Connecting, now, options);
        client.ephemeral = true;
        let server = Endpoint::new(host, target, EndState::Unborn, now, options);
        let key = self.conns.insert(Connection {
            target,
            dest,
            ends: [client, server],
            stable: false,
            syn_attempts: 1,
        });
        let path = Path {
            src: host,
            dst: dest.unwrap_or(host),
            from: local,
            to: target,
        };
        let net = &mut self.net;
        let failure = if net.faults.config.connect.enabled
            && path.src != path.dst
            && !net.faults.is_stable(path.src, path.dst)
        {
            net.faults.roll_connect()
        } else {
            None
        };
        match failure {
            None => {
                let at = net.arrival_unordered(now, path);
                net.schedule(at, Event::Syn(key), wakes);
            }
            Some(true) => {
                net.fault(now, FaultKind::ConnectRefused, local, target);
                let at = net.arrival_unordered(now, path);
                net.schedule(at, Event::Refuse(key), wakes);
            }
            // The SYN vanishes: the caller's own timeout ends the attempt.
            Some(false) => net.fault(now, FaultKind::ConnectHang, local, target),
        }
        debug!(%local, %target, "connecting");
        Ok(key)
    }

    /// Progress of a connect: Ok((local, peer)) once established.
    pub(crate) fn poll_connect(
        &mut self,
        key: Key,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(SocketAddr, SocketAddr)>> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Poll::Ready(Err(errors::aborted()));
        };
        let peer = conn.end(Side::Server).local;
        let client = conn.end_mut(Side::Client);
        match client.state {
            EndState::Connecting => {
                store_waker(&mut client.read_waker, cx.waker());
                Poll::Pending
            }
            EndState::Open => Poll::Ready(Ok((client.local, peer))),
            EndState::Refused => {
                client.state = EndState::Closed;
                self.free_if_dead(key);
                Poll::Ready(Err(errors::refused()))
            }
            EndState::SynTimedOut => {
                client.state = EndState::Closed;
                self.free_if_dead(key);
                Poll::Ready(Err(errors::timed_out()))
            }
            EndState::Unborn | EndState::Closed => Poll::Ready(Err(errors::aborted())),
        }
    }

    /// A connection request reached its destination host (or found none).
    pub(crate) fn on_syn(&mut self, key: Key, now: Instant, wakes: &mut Wakes) {
        let World {
            net,
            conns,
            listeners,
            ports,
            hosts,
            ..
        } = self;
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let client = conn.end(Side::Client).local;
        let target = conn.target;
        if conn.end(Side::Client).state != EndState::Connecting {
            // Abandoned before the request arrived; nobody waits for an answer.
            self.free_if_dead(key);
            return;
        }
        let listener = conn
            .dest
            .filter(|&host| hosts.is_alive(host))
            .and_then(|host| ports.get(&(host, target.port())).copied())
            .and_then(|lk| listeners.get_mut(lk))
            .filter(|l| l.accepts(target.ip()));
        match listener {
            Some(listener) if listener.is_full() => {
                // Linux drops a SYN its full accept queue can not take; the
                // client retransmits it after a doubling timeout.
                debug!(%client, server = %target, "accept queue full: SYN dropped");
                let attempts = conn.syn_attempts;
                let shift = attempts.saturating_sub(1).min(16);
                let timeout = net.config.syn_timeout.saturating_mul(1 << shift);
                let path = conn.path(Side::Client);
                if attempts > net.config.syn_retries {
                    net.schedule(later(now, timeout), Event::SynTimeout(key), wakes);
                } else {
                    conn.syn_attempts += 1;
                    let at = later(net.arrival_unordered(now, path), timeout);
                    net.schedule(at, Event::Syn(key), wakes);
                }
            }
            Some(listener) => {
                *conn.end_mut(Side::Server) =
                    Endpoint::new(listener.host, target, EndState::Open, now, listener.options);
                let path = conn.path(Side::Server);
                let server = conn.end_mut(Side::Server);
                listener.backlog.push_back(key);
                listener.wake_acceptors(wakes);
                let at = net.arrival(now, &mut server.last_arrival, path);
                net.schedule(at, Event::SynAck(key), wakes);
                net.record(
                    now,
                    NetEvent::Accepted {
                        client,
                        server: target,
                    },
                );
                debug!(%client, server = %target, "connection queued for accept");
            }
            None => {
                let path = conn.path(Side::Server);
                let at = net.arrival_unordered(now, path);
                net.schedule(at, Event::Refuse(key), wakes);
                net.record(
                    now,
                    NetEvent::Refused {
                        client,
                        server: target,
                    },
                );
                debug!(%client, server = %target, "connection refused");
            }
        }
    }
}
