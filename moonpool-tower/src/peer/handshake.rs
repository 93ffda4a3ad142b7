//! The frame that opens every connection, and the ping/pong frames of the
//! connection monitor. `docs/wire-format.md` is the normative description.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use futures_util::{SinkExt, StreamExt};
use moonpool_codec::{NetworkAddress, Packet, Uid, WellKnownToken};

use super::error::HandshakeError;
use super::wire::Wire;

/// The well-known token index of the handshake frame. Indices 0, 1 and 2
/// are `EndpointNotFound`, `Ping` and `UnauthorizedEndpoint`; all indices
/// below 64 are reserved for moonpool.
pub const HANDSHAKE_TOKEN_INDEX: u32 = 3;

/// The token of the handshake frame: `Uid::well_known(3)`.
pub const HANDSHAKE_TOKEN: Uid = Uid::well_known(HANDSHAKE_TOKEN_INDEX);

/// The protocol version this build announces: `"moon"` in the high 32
/// bits, major version 1 in the next 16, minor revision 0 in the low 16.
pub const PROTOCOL_VERSION: u64 = 0x6D6F_6F6E_0001_0000;

/// Two protocol versions are compatible when they agree on these bits: the
/// low 16 bits are a minor revision that does not change the wire format.
pub const COMPATIBLE_VERSION_MASK: u64 = 0xFFFF_FFFF_FFFF_0000;

/// Whether a node announcing `remote` can talk to one announcing `local`.
pub const fn versions_compatible(local: u64, remote: u64) -> bool {
    local & COMPATIBLE_VERSION_MASK == remote & COMPATIBLE_VERSION_MASK
}

/// Bytes of a handshake payload. Receivers ignore bytes past this, so a
/// later compatible revision may append fields.
pub(crate) const HANDSHAKE_LEN: usize = 40;

const FAMILY_NONE: u8 = 0;
const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

/// The content of a handshake frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// The sender's protocol version.
    pub(crate) version: u64,
    /// The sender's id for this connection (random, for tracing).
    pub(crate) connection_id: u64,
    /// Where the sender listens, if it does.
    pub(crate) listen: Option<NetworkAddress>,
}

impl Handshake {
    /// The handshake frame.
    pub(crate) fn to_packet(self) -> Packet {
        let mut payload = BytesMut::with_capacity(HANDSHAKE_LEN);
        payload.put_u64_le(self.version);
        payload.put_u64_le(self.connection_id);
        let (family, port, flags, ip) = match self.listen {
            None => (FAMILY_NONE, 0, 0, [0u8; 16]),
            Some(address) => {
                let mut ip = [0u8; 16];
                let family = match address.ip {
                    IpAddr::V4(v4) => {
                        ip[..4].copy_from_slice(&v4.octets());
                        FAMILY_V4
                    }
                    IpAddr::V6(v6) => {
                        ip.copy_from_slice(&v6.octets());
                        FAMILY_V6
                    }
                };
                (family, address.port, address.flags, ip)
            }
        };
        payload.put_u8(family);
        payload.put_u8(0);
        payload.put_u16_le(port);
        payload.put_u16_le(flags);
        payload.put_u16_le(0);
        payload.put_slice(&ip);
        Packet::new(HANDSHAKE_TOKEN, payload.freeze())
    }

    /// Reads a handshake payload, checking the version before anything else
    /// (a later major version may change everything after it).
    pub(crate) fn from_payload(
        mut payload: &[u8],
        local_version: u64,
    ) -> Result<Self, HandshakeError> {
        let len = payload.len();
        let malformed = |reason| HandshakeError::Malformed { len, reason };
        if len < 8 {
            return Err(malformed("shorter than the version field"));
        }
        let version = payload.get_u64_le();
        if !versions_compatible(local_version, version) {
            return Err(HandshakeError::IncompatibleVersion {
                local: local_version,
                remote: version,
            });
        }
        if len < HANDSHAKE_LEN {
            return Err(malformed("shorter than 40 bytes"));
        }
        let connection_id = payload.get_u64_le();
        let family = payload.get_u8();
        payload.advance(1);
        let port = payload.get_u16_le();
        let flags = payload.get_u16_le();
        payload.advance(2);
        let mut ip = [0u8; 16];
        payload.copy_to_slice(&mut ip);
        let ip = match family {
            FAMILY_NONE => None,
            FAMILY_V4 => Some(IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))),
            FAMILY_V6 => Some(IpAddr::V6(Ipv6Addr::from(ip))),
            _ => return Err(malformed("unknown address family")),
        };
        Ok(Self {
            version,
            connection_id,
            listen: ip.map(|ip| NetworkAddress::new(ip, port).with_flags(flags)),
        })
    }

    /// Sends ours, then reads the remote's, which must be the first frame
    /// it sends, within `timeout` for the whole exchange.
    pub(crate) async fn exchange(
        self,
        wire: &mut Wire,
        timeout: Duration,
    ) -> Result<Self, HandshakeError> {
        let exchange = async {
            wire.writer
                .send(self.to_packet())
                .await
                .map_err(HandshakeError::Wire)?;
            match wire.reader.next().await {
                None => Err(HandshakeError::Closed),
                Some(Err(error)) => Err(HandshakeError::Wire(error)),
                Some(Ok(packet)) if packet.token != HANDSHAKE_TOKEN => {
                    Err(HandshakeError::UnexpectedFrame {
                        token: packet.token,
                    })
                }
                Some(Ok(packet)) => Self::from_payload(&packet.payload, self.version),
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HandshakeError::Timeout { timeout })?
    }
}

/// The token ping and pong frames are addressed to.
pub(crate) const PING_TOKEN: Uid = WellKnownToken::Ping.uid();

/// Bytes of a ping or pong payload: kind, then nonce.
pub(crate) const PING_LEN: usize = 9;

/// A ping or a pong frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// Asks the remote to answer with a pong carrying the same nonce.
    Ping(u64),
    /// Answers the ping with this nonce.
    Pong(u64),
}

impl Probe {
    /// The frame.
    pub(crate) fn to_packet(self) -> Packet {
        let (kind, nonce) = match self {
            Self::Ping(nonce) => (0u8, nonce),
            Self::Pong(nonce) => (1u8, nonce),
        };
        let mut payload = BytesMut::with_capacity(PING_LEN);
        payload.put_u8(kind);
        payload.put_u64_le(nonce);
        Packet::new(PING_TOKEN, payload.freeze())
    }

    /// The probe a frame is, if it is one. Frames to the Ping token with any
    /// other payload are not probes (they go to the inbound handler).
    pub(crate) fn from_packet(packet: &Packet) -> Option<Self> {
        if packet.token != PING_TOKEN || packet.payload.len() != PING_LEN {
            return None;
        }
        let mut payload = &packet.payload[..];
        let kind = payload.get_u8();
        let nonce = payload.get_u64_le();
        match kind {
            0 => Some(Self::Ping(nonce)),
            1 => Some(Self::Pong(nonce)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::codec::Encoder;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The test vector in docs/wire-format.md, between its two markers.
    fn documented_vector(marker: &str) -> String {
        let doc = include_str!("../../../docs/wire-format.md");
        let start = doc.find(&format!("<!-- {marker} -->")).unwrap();
        let block = &doc[start..];
        let open = block.find("```text\n").unwrap() + "```text\n".len();
        let close = block[open..].find("```").unwrap();
        block[open..open + close]
            .split_whitespace()
            .collect::<String>()
    }

    fn frame(packet: Packet) -> Vec<u8> {
        let mut buf = BytesMut::new();
        moonpool_codec::PacketCodec::new()
            .encode(packet, &mut buf)
            .unwrap();
        buf.to_vec()
    }

    #[test]
    fn handshake_frame_matches_the_documented_test_vector() {
        let handshake = Handshake {
            version: PROTOCOL_VERSION,
            connection_id: 0x0123_4567_89AB_CDEF,
            listen: Some("10.0.0.1:4500".parse().unwrap()),
        };
        assert_eq!(
            hex(&frame(handshake.to_packet())),
            documented_vector("handshake-vector")
        );
    }

    #[test]
    fn ping_frame_matches_the_documented_test_vector() {
        assert_eq!(
            hex(&frame(Probe::Ping(42).to_packet())),
            documented_vector("ping-vector")
        );
    }

    #[test]
    fn handshake_round_trips_with_and_without_a_listening_address() {
        for listen in [
            None,
            Some("10.0.0.1:4500".parse().unwrap()),
            Some("[::1]:9:tls:public".parse().unwrap()),
        ] {
            let sent = Handshake {
                version: PROTOCOL_VERSION,
                connection_id: 7,
                listen,
            };
            let packet = sent.to_packet();
            assert_eq!(packet.payload.len(), HANDSHAKE_LEN);
            assert_eq!(
                Handshake::from_payload(&packet.payload, PROTOCOL_VERSION).unwrap(),
                sent
            );
        }
    }

    #[test]
    fn minor_revisions_are_compatible_and_majors_are_not() {
        assert!(versions_compatible(PROTOCOL_VERSION, PROTOCOL_VERSION + 1));
        let other_major = PROTOCOL_VERSION + 0x1_0000;
        let packet = Handshake {
            version: other_major,
            connection_id: 1,
            listen: None,
        }
        .to_packet();
        assert!(matches!(
            Handshake::from_payload(&packet.payload, PROTOCOL_VERSION),
            Err(HandshakeError::IncompatibleVersion { remote, .. }) if remote == other_major
        ));
    }

    #[test]
    fn short_or_unknown_family_payloads_are_malformed() {
        let version = PROTOCOL_VERSION.to_le_bytes();
        assert!(matches!(
            Handshake::from_payload(&version, PROTOCOL_VERSION),
            Err(HandshakeError::Malformed { len: 8, .. })
        ));
        let mut payload = Handshake {
            version: PROTOCOL_VERSION,
            connection_id: 1,
            listen: None,
        }
        .to_packet()
        .payload
        .to_vec();
        payload[16] = 5;
        assert!(matches!(
            Handshake::from_payload(&payload, PROTOCOL_VERSION),
            Err(HandshakeError::Malformed { .. })
        ));
    }

    #[test]
    fn probes_round_trip_and_other_ping_payloads_are_not_probes() {
        for probe in [Probe::Ping(3), Probe::Pong(u64::MAX)] {
            assert_eq!(Probe::from_packet(&probe.to_packet()), Some(probe));
        }
        assert_eq!(
            Probe::from_packet(&Packet::new(PING_TOKEN, vec![0u8; 20])),
            None
        );
    }
}
