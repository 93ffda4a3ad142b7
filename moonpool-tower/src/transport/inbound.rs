//! Where received packets go: the inbound-dispatch seam.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use moonpool_codec::Packet;
use tokio::sync::mpsc;
use tracing::warn;

use crate::peer::Peer;

/// Receives every packet that arrives on any connection of a transport,
/// except handshake, ping and pong frames, which the connection handles.
///
/// `from` is the peer the packet came through: a reply sent through it
/// travels back on a connection to the same remote (for an anonymous client,
/// the very connection the packet came in on). Clone it to keep it.
///
/// `deliver` runs inside the connection's task and must not block: hand the
/// packet to a channel or a spawned task. The endpoint router implements
/// this trait; any `Fn(Packet, &Peer) + Send + Sync + 'static` does too.
pub trait InboundHandler: Send + Sync + 'static {
    /// Takes one received packet.
    fn deliver(&self, packet: Packet, from: &Peer);
}

impl<F> InboundHandler for F
where
    F: Fn(Packet, &Peer) + Send + Sync + 'static,
{
    fn deliver(&self, packet: Packet, from: &Peer) {
        self(packet, from)
    }
}

/// The default handler: drops every packet (a node that only sends).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardInbound;

impl InboundHandler for DiscardInbound {
    fn deliver(&self, packet: Packet, _from: &Peer) {
        tracing::trace!(token = %packet.token, "no inbound handler; dropping a packet");
    }
}

/// A received packet and the peer to reply through.
#[derive(Debug)]
pub struct Inbound {
    /// The packet.
    pub packet: Packet,
    /// The peer it came through.
    pub from: Peer,
}

/// An [`InboundHandler`] that forwards packets into a bounded channel.
///
/// When the channel is full the packet is dropped, counted
/// ([`InboundChannel::dropped`]) and logged: `deliver` never blocks. Size
/// the channel for bursts; a reliable sender resends only on a reconnect.
#[derive(Debug, Clone)]
pub struct InboundChannel {
    sender: mpsc::Sender<Inbound>,
    dropped: Arc<AtomicU64>,
}

impl InboundChannel {
    /// A handler and the receiving end of its channel of `capacity` packets.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Inbound>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let handler = Self {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (handler, receiver)
    }

    /// Packets dropped because the channel was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl InboundHandler for InboundChannel {
    fn deliver(&self, packet: Packet, from: &Peer) {
        let inbound = Inbound {
            packet,
            from: from.clone(),
        };
        if let Err(error) = self.sender.try_send(inbound) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            let token = match &error {
                mpsc::error::TrySendError::Full(inbound)
                | mpsc::error::TrySendError::Closed(inbound) => inbound.packet.token,
            };
            warn!(%token, "inbound channel full or closed; dropping a packet");
        }
    }
}
