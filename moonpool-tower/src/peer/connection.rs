//! One live connection: its reader, its writer, its monitor (see
//! `monitor.rs`), and the supervisor that ends it for shutdown, idleness or a better connection.
//!
//! The four run as one future inside the keeper's task; the first to finish
//! ends the connection and says why.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures_util::{FutureExt, SinkExt, StreamExt};
use moonpool_codec::{NetworkAddress, Packet};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tracing::{Instrument, debug, debug_span, trace};

use super::Peer;
use super::error::ConnectionError;
use super::handshake::{HANDSHAKE_TOKEN, Handshake, Probe};
use super::keeper::{idle_expired, next_attached};
use super::metrics::MetricsCells;
use super::monitor::{self, ReadProgress};
use super::shared::{PeerShared, lock};
use super::wire::Wire;
use crate::transport::NodeContext;

/// Who opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// We dialed.
    Outgoing,
    /// The remote dialed and we accepted.
    Incoming,
}

/// A connection whose handshake has completed.
pub(crate) struct Established {
    pub(crate) wire: Wire,
    pub(crate) origin: Origin,
    /// Our connection id (sent in our handshake).
    pub(crate) local_id: u64,
    /// The remote's handshake.
    pub(crate) remote: Handshake,
}

/// Whether an incoming connection from a remote listening at `remote`
/// replaces the `current` connection (or attempt) to the same remote.
///
/// - A newer incoming connection always replaces an older incoming one:
///   the remote reconnected, so it has given up on the old one.
/// - Against our own outgoing connection or attempt (a simultaneous
///   connect), **the connection initiated by the lower listening address
///   wins**: both nodes apply the same rule to the same two addresses, so
///   both keep the same connection. No reliable packet is lost: they are
///   resent on the winner. The closed connection ends like any other:
///   unreliable packets still queued for it are discarded and their
///   receipts report the failure.
pub(crate) fn incoming_wins(
    current: Origin,
    local: Option<NetworkAddress>,
    remote: Option<NetworkAddress>,
) -> bool {
    match (current, local, remote) {
        (Origin::Incoming, _, _) => true,
        (Origin::Outgoing, Some(local), Some(remote)) => remote <= local,
        // Without both addresses there is no contest to settle.
        (Origin::Outgoing, _, _) => true,
    }
}

/// Frames the monitor and the reader want written ahead of the queue.
struct Control {
    probes: Mutex<VecDeque<Probe>>,
    ready: Notify,
    max_pending_pongs: usize,
}

impl Control {
    fn push(&self, probe: Probe) {
        {
            let mut probes = lock(&self.probes);
            if matches!(probe, Probe::Pong(_)) && probes.len() >= self.max_pending_pongs {
                trace!("too many pings pending; not answering this one");
                return;
            }
            probes.push_back(probe);
        }
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Packet> {
        lock(&self.probes).pop_front().map(Probe::to_packet)
    }
}

/// Serves `connection` for `shared` until it ends. Returns why, and the
/// connection that replaces it, if one does.
pub(crate) async fn run(
    ctx: &NodeContext,
    shared: &PeerShared,
    handle: &Peer,
    connection: Established,
) -> (ConnectionError, Option<Established>) {
    let Established {
        wire,
        origin,
        local_id,
        remote,
    } = connection;
    let span = debug_span!(
        "connection",
        local_id,
        remote_id = remote.connection_id,
        ?origin,
        remote_listen = ?remote.listen,
    );
    async move {
        // Read before the connection counts as established: a close
        // requested from then on is this connection's. A reconnect
        // requested while it was being opened is satisfied by it.
        let closes = shared.control.closes();
        shared.control.clear_reconnect();
        shared.connection_established();
        debug!("connection established");
        let config = &ctx.config.peer;
        let Wire {
            mut reader,
            mut writer,
            received,
        } = wire;
        let progress = ReadProgress::new(received, reader.read_buffer().len());
        let control = Control {
            probes: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            max_pending_pongs: config.max_pending_pongs,
        };
        let metrics = &shared.metrics;

        let read = async {
            loop {
                let packet = match reader.next().await {
                    None => return ConnectionError::Closed,
                    Some(Err(error)) => return ConnectionError::from_wire(error),
                    Some(Ok(packet)) => packet,
                };
                progress.frame_decoded(packet.frame_len());
                MetricsCells::add(&metrics.bytes_received, packet.frame_len() as u64);
                if let Some(probe) = Probe::from_packet(&packet) {
                    if let Probe::Ping(nonce) = probe {
                        control.push(Probe::Pong(nonce));
                    }
                    continue;
                }
                if packet.token == HANDSHAKE_TOKEN {
                    return ConnectionError::UnexpectedHandshake;
                }
                MetricsCells::add(&metrics.packets_received, 1);
                shared.touch();
                trace!(token = %packet.token, len = packet.payload.len(), "received");
                ctx.handler.deliver(packet, handle);
            }
        };

        // Coalesces writes: frames are fed while more are queued and the
        // sink is flushed only when there is nothing left to write.
        let write = async {
            loop {
                let next = match control.pop() {
                    Some(probe) => Some((probe, false)),
                    None => shared
                        .with_queue(|queue| queue.pop())
                        .map(|packet| (packet, true)),
                };
                match next {
                    Some((packet, application)) => {
                        let len = packet.frame_len() as u64;
                        if let Err(error) = writer.feed(packet).await {
                            return ConnectionError::from_wire(error);
                        }
                        MetricsCells::add(&metrics.bytes_sent, len);
                        if application {
                            MetricsCells::add(&metrics.packets_sent, 1);
                        }
                    }
                    None => {
                        if let Err(error) = SinkExt::<Packet>::flush(&mut writer).await {
                            return ConnectionError::from_wire(error);
                        }
                        tokio::select! {
                            biased;
                            () = control.ready.notified() => {}
                            () = shared.work.notified() => {}
                        }
                    }
                }
            }
        };

        let monitor = monitor::watch(config, &progress, |nonce| {
            control.push(Probe::Ping(nonce));
        });

        let supervise = async {
            loop {
                tokio::select! {
                    biased;
                    () = ctx.shutdown.cancelled() => return (ConnectionError::Shutdown, None),
                    incoming = next_attached(shared) => {
                        if incoming_wins(origin, ctx.local, incoming.remote.listen) {
                            return (ConnectionError::Replaced, Some(incoming));
                        }
                        debug!("simultaneous connect: keeping ours, closing the incoming one");
                    }
                    () = idle_expired(shared, config.idle_timeout) => {
                        return (ConnectionError::Idle, None);
                    }
                    () = shared.control.closed_since(closes) => {
                        debug!("closing the connection at a local request");
                        return (ConnectionError::ClosedLocally, None);
                    }
                }
            }
        };

        let ended = tokio::select! {
            biased;
            ended = supervise => ended,
            error = read => (error, None),
            error = write => (error, None),
            error = monitor => (error, None),
        };
        if matches!(ended.0, ConnectionError::ClosedLocally) {
            // Send FIN now if the stream can at once; either way the
            // connection is dropped right after, which closes it.
            let _ = writer.get_mut().shutdown().now_or_never();
        }
        ended
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(s: &str) -> Option<NetworkAddress> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn both_nodes_keep_the_connection_initiated_by_the_lower_address() {
        let low = address("10.0.0.1:1");
        let high = address("10.0.0.2:1");
        // On the low node, the incoming one was initiated by the high node.
        assert!(!incoming_wins(Origin::Outgoing, low, high));
        // On the high node, the incoming one was initiated by the low node.
        assert!(incoming_wins(Origin::Outgoing, high, low));
    }

    #[test]
    fn a_newer_incoming_connection_replaces_an_older_one() {
        assert!(incoming_wins(
            Origin::Incoming,
            address("10.0.0.1:1"),
            address("10.0.0.2:1")
        ));
    }
}
