//! The accept loop and the handshake of incoming connections.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use tracing::{Instrument, debug, debug_span, warn};

use super::NodeContext;
use super::handshakes::HandshakeSlot;
use crate::net::{BoxIncoming, BoxIo};
use crate::peer::{Established, Handshake, HandshakeError, Origin, Wire};

/// Accepts connections until shutdown or until the stream ends, and starts
/// a handshake task for each. Beyond
/// [`AcceptConfig::max_handshaking`](super::AcceptConfig::max_handshaking)
/// handshakes under way (or
/// [`max_handshaking_per_source`](super::AcceptConfig::max_handshaking_per_source)
/// from the new connection's source), the oldest unfinished one is closed
/// to make room.
pub(crate) async fn accept_loop(ctx: Arc<NodeContext>, mut incoming: BoxIncoming) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => break,
            accepted = incoming.next() => accepted,
        };
        match accepted {
            None => {
                debug!("accept stream ended");
                break;
            }
            Some(Err(error)) => {
                warn!(%error, "accept failed; pausing");
                tokio::select! {
                    biased;
                    () = ctx.shutdown.cancelled() => break,
                    () = tokio::time::sleep(ctx.config.accept.error_pause) => {}
                }
            }
            Some(Ok((io, from))) => {
                let slot = ctx.admission.handshake(from);
                let span = debug_span!("incoming", %from);
                // Not started only after shutdown, which ends this loop.
                let _ = ctx.spawn(handshake_incoming(ctx.clone(), io, from, slot).instrument(span));
            }
        }
    }
}

/// Runs our side of an incoming connection's handshake, holding one of the
/// handshake places (and ending, the connection closed, if a newer
/// connection takes it), then hands the connection to the peer of the
/// address the remote announced.
async fn handshake_incoming(
    ctx: Arc<NodeContext>,
    io: BoxIo,
    from: SocketAddr,
    mut slot: HandshakeSlot,
) {
    let config = &ctx.config.peer;
    let mut wire = Wire::new(io, config.max_frame_length);
    let connection_id = ctx.connection_id();
    let ours = Handshake {
        version: config.protocol_version,
        connection_id,
        listen: ctx.local,
    };
    let exchange = ours.exchange(&mut wire, config.handshake_timeout);
    let remote = tokio::select! {
        biased;
        () = ctx.shutdown.cancelled() => return,
        () = slot.evicted() => {
            debug!(%from, "unfinished handshake evicted for a newer connection");
            return;
        }
        remote = exchange => remote,
    };
    drop(slot);
    match remote {
        Ok(remote) => {
            debug!(connection_id, remote_listen = ?remote.listen, "incoming connection");
            ctx.attach_incoming(
                Established {
                    wire,
                    origin: Origin::Incoming,
                    local_id: connection_id,
                    remote,
                },
                from,
            );
        }
        // The dialing side logs a version mismatch (once per peer); here the
        // remote is not known yet, so it stays at debug.
        Err(error @ HandshakeError::IncompatibleVersion { .. }) => {
            debug!(%error, %from, "refused an incoming connection");
        }
        Err(error) => {
            if matches!(error, HandshakeError::Timeout { .. }) {
                ctx.admission.handshake_timed_out();
            }
            debug!(%error, %from, "incoming handshake failed");
        }
    }
}
