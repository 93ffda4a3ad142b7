//! Packets for tokens nobody serves: the `EndpointNotFound` notice a node
//! answers them with, and what a node does with a notice it receives.
//! Normative text: `docs/wire-format.md`, section "EndpointNotFound".

use moonpool_codec::{Endpoint, NetworkAddress, Packet, Uid, WellKnownToken};
use tracing::{debug, trace};

use super::ReplyPath;
use super::router::RouterShared;
use crate::rpc::envelope::{decode_not_found, encode_not_found};

/// Whether `token` is one of moonpool's own well-known tokens (index below
/// [`WellKnownToken::RESERVED`]).
pub(crate) fn is_reserved(token: Uid) -> bool {
    token.is_well_known() && token.second < u64::from(WellKnownToken::RESERVED)
}

impl RouterShared {
    /// Answers a packet for an unknown token.
    pub(super) fn not_found(&self, packet: Packet, path: &ReplyPath) {
        // moonpool's own tokens are never answered: a notice about the
        // EndpointNotFound token itself would draw another, forever.
        if is_reserved(packet.token) {
            trace!(token = %packet.token, "packet for an unserved reserved token dropped");
            return;
        }
        trace!(token = %packet.token, "endpoint not found; telling the sender");
        path.send(Packet::new(
            WellKnownToken::EndpointNotFound.uid(),
            encode_not_found(packet.token),
        ));
    }

    /// The sender at `from` serves nothing at the token the packet names:
    /// fail our calls addressed there, and only there.
    ///
    /// `from` is the sender's listening address (this node's own for a
    /// local delivery). A sender without one (a client that does not
    /// listen) is the target of no call, so its notice fails nothing: were
    /// it taken as a wildcard, any client could fail every call this node
    /// has to a guessable token, at every address.
    pub(super) fn endpoint_not_found(&self, packet: &Packet, from: Option<NetworkAddress>) {
        let Some(unknown) = decode_not_found(&packet.payload) else {
            debug!(
                len = packet.payload.len(),
                "malformed EndpointNotFound packet dropped"
            );
            return;
        };
        let Some(from) = from else {
            debug!(%unknown, "EndpointNotFound from a sender without an address ignored");
            return;
        };
        let failed = self.fail_pending_to(Endpoint::new(from, unknown));
        trace!(%unknown, %from, calls = failed, "EndpointNotFound received");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{EndpointRouter, Resolution};
    use crate::executor::{TokioExecutor, share};
    use crate::transport::EndpointConfig;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn router() -> EndpointRouter {
        let local = NetworkAddress::new([10, 0, 0, 1].into(), 4500);
        EndpointRouter::new(
            Some(local),
            share(TokioExecutor),
            StdRng::seed_from_u64(1),
            None,
            EndpointConfig::default(),
        )
    }

    #[test]
    fn unserved_reserved_tokens_are_dropped_and_every_other_token_is_answered_not_found() {
        let router = router();
        let cases = [
            (
                Uid::well_known(WellKnownToken::UnauthorizedEndpoint.index()),
                false,
            ),
            (Uid::well_known(WellKnownToken::RESERVED - 1), false),
            (Uid::well_known(WellKnownToken::RESERVED), true),
            (Uid::well_known(1000), true),
            (Uid::new(7, 7), true),
        ];
        for (token, answered) in cases {
            let target = router.endpoint(token).unwrap();
            let (_reply_token, mut resolution) = router.shared.open_pending(target);
            router.deliver_local(Packet::new(token, bytes::Bytes::new()));
            let notified = matches!(resolution.try_recv(), Ok(Resolution::EndpointNotFound));
            assert_eq!(notified, answered, "{token}");
        }
    }
}
