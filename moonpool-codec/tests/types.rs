//! Tokens, addresses, endpoints, their serde forms, and the payload codecs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Bytes, BytesMut};
use moonpool_codec::{
    AddressParseError, Endpoint, NetworkAddress, PayloadCodec, PayloadError, PostcardCodec,
    ProstCodec, Uid, WellKnownToken,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

mod uid {
    use super::*;

    #[test]
    fn a_well_known_token_has_all_ones_then_its_index() {
        let uid = Uid::well_known(7);

        assert_eq!(uid, Uid::new(u64::MAX, 7));
        assert!(uid.is_well_known());
        assert!(!Uid::new(u64::MAX - 1, 7).is_well_known());
    }

    #[test]
    fn moonpool_defines_three_well_known_tokens_below_the_reserved_range() {
        let tokens = [
            (WellKnownToken::EndpointNotFound, 0),
            (WellKnownToken::Ping, 1),
            (WellKnownToken::UnauthorizedEndpoint, 2),
        ];
        for (token, index) in tokens {
            assert_eq!(token.index(), index);
            assert_eq!(token.uid(), Uid::well_known(index));
            assert_eq!(Uid::from(token), Uid::well_known(index));
            assert_eq!(WellKnownToken::from_uid(token.uid()), Some(token));
            assert!(index < WellKnownToken::RESERVED);
        }
        assert_eq!(WellKnownToken::RESERVED, 64);
        assert_eq!(WellKnownToken::from_uid(Uid::well_known(3)), None);
        assert_eq!(WellKnownToken::from_uid(Uid::new(0, 1)), None);
    }

    #[test]
    fn display_and_debug_are_32_hex_digits_first_half_first() {
        let uid = Uid::new(0x0123_4567_89ab_cdef, 0xa);

        assert_eq!(uid.to_string(), "0123456789abcdef000000000000000a");
        assert_eq!(format!("{uid:?}"), "0123456789abcdef000000000000000a");
        assert_eq!(Uid::new(0, 0).to_string().len(), 32);
    }

    #[test]
    fn tokens_order_by_first_then_second() {
        let mut set = BTreeSet::new();
        set.extend([Uid::new(2, 0), Uid::new(1, 9), Uid::new(1, 3)]);

        let ordered: Vec<_> = set.into_iter().collect();

        assert_eq!(ordered, [Uid::new(1, 3), Uid::new(1, 9), Uid::new(2, 0)]);
    }

    #[test]
    fn random_tokens_come_from_the_callers_rng_and_repeat_with_its_seed() {
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..100).map(|_| Uid::random(&mut rng)).collect::<Vec<_>>()
        };

        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().all(|uid| !uid.is_well_known()));
    }

    /// An RNG that first returns all ones, to land on a well-known token.
    struct AllOnesThenCount(u64);

    impl rand_core::TryRng for AllOnesThenCount {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 += 1;
            Ok(if self.0 <= 2 { u64::MAX } else { self.0 })
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0);
            Ok(())
        }
    }

    #[test]
    fn a_random_draw_never_returns_a_well_known_token() {
        let uid = Uid::random(&mut AllOnesThenCount(0));

        assert_eq!(uid, Uid::new(3, 4));
    }

    #[test]
    fn adjusted_offsets_the_low_half_only() {
        let base = Uid::new(5, u64::MAX);

        assert_eq!(base.adjusted(0), base);
        assert_eq!(base.adjusted(2), Uid::new(5, 1));
    }

    proptest! {
        #[test]
        fn the_wire_form_round_trips(first in any::<u64>(), second in any::<u64>()) {
            let uid = Uid::new(first, second);
            let bytes = uid.to_le_bytes();

            prop_assert_eq!(&bytes[..8], &first.to_le_bytes()[..]);
            prop_assert_eq!(Uid::from_le_bytes(bytes), uid);
        }
    }
}

mod address {
    use super::*;

    #[test]
    fn an_address_displays_and_parses_back() {
        let cases = [
            "1.2.3.4:4500",
            "1.2.3.4:4500:tls",
            "1.2.3.4:4500:public",
            "1.2.3.4:4500:tls:public",
            "[::1]:80",
            "[2001:db8::7]:65535:tls",
        ];
        for text in cases {
            let address: NetworkAddress = text.parse().unwrap();
            assert_eq!(address.to_string(), text);
            assert_eq!(format!("{address:?}"), text);
        }
    }

    #[test]
    fn debug_tells_apart_addresses_that_differ_only_in_unnamed_flags() {
        let plain: NetworkAddress = "1.2.3.4:4500:tls".parse().unwrap();
        let marked = plain.with_flags(plain.flags | 4);

        assert_ne!(plain, marked);
        assert_eq!(marked.to_string(), "1.2.3.4:4500:tls");
        assert_eq!(format!("{marked:?}"), "1.2.3.4:4500:tls:flags=0x0005");
        assert_eq!(format!("{plain:?}"), "1.2.3.4:4500:tls");
    }

    #[test]
    fn flags_are_read_from_their_suffixes_in_any_order() {
        let address: NetworkAddress = "10.0.0.1:1:public:tls".parse().unwrap();

        assert!(address.is_tls());
        assert!(address.is_public());
        assert_eq!(
            address.flags,
            NetworkAddress::FLAG_TLS | NetworkAddress::FLAG_PUBLIC
        );
    }

    #[test]
    fn a_bad_address_says_what_was_wrong() {
        for text in [
            "",
            "1.2.3.4",
            "1.2.3.4:port",
            "::1:80",
            "1.2.3.4:1:tls:tls",
            "host:1",
        ] {
            let error: AddressParseError = text.parse::<NetworkAddress>().unwrap_err();
            assert_eq!(error.input, text);
            assert!(error.to_string().contains(text));
        }
    }

    #[test]
    fn a_socket_address_converts_both_ways_without_flags() {
        let socket = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 9);

        let address = NetworkAddress::from(socket);

        assert_eq!(address.flags, 0);
        assert_eq!(SocketAddr::from(address), socket);
        assert_eq!(address.socket_addr(), socket);
    }

    #[test]
    fn an_endpoint_is_an_address_and_a_token() {
        let address = NetworkAddress::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4500)
            .with_flags(NetworkAddress::FLAG_TLS);
        let endpoint = Endpoint::new(address, Uid::new(1, 2));

        assert_eq!(
            endpoint.to_string(),
            "00000000000000010000000000000002@127.0.0.1:4500:tls"
        );
        assert_eq!(endpoint.adjusted(3).token, Uid::new(1, 5));
        assert_eq!(endpoint.adjusted(3).address, address);
    }
}

mod serde_forms {
    use super::*;

    fn sample_endpoint() -> Endpoint {
        let address: NetworkAddress = "[2001:db8::1]:4500:tls:public".parse().unwrap();
        Endpoint::new(address, Uid::new(u64::MAX - 3, 17))
    }

    #[test]
    fn uid_address_and_endpoint_round_trip_through_json() {
        let endpoint = sample_endpoint();

        let json = serde_json::to_string(&endpoint).unwrap();

        assert_eq!(serde_json::from_str::<Endpoint>(&json).unwrap(), endpoint);
        let uid: Uid = serde_json::from_str(r#"{"first":1,"second":2}"#).unwrap();
        assert_eq!(uid, Uid::new(1, 2));
    }

    #[test]
    fn uid_address_and_endpoint_round_trip_through_postcard() {
        let endpoint = sample_endpoint();

        let bytes = postcard::to_allocvec(&endpoint).unwrap();

        assert_eq!(postcard::from_bytes::<Endpoint>(&bytes).unwrap(), endpoint);
        let address = endpoint.address;
        let bytes = postcard::to_allocvec(&address).unwrap();
        assert_eq!(
            postcard::from_bytes::<NetworkAddress>(&bytes).unwrap(),
            address
        );
    }
}

mod payloads {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Request {
        #[prost(uint64, tag = "1")]
        id: u64,
        #[prost(string, tag = "2")]
        name: String,
        #[prost(bytes = "bytes", tag = "3")]
        blob: Bytes,
    }

    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Reply {
        id: u64,
        tokens: Vec<Uid>,
        note: Option<String>,
    }

    #[test]
    fn prost_messages_round_trip() {
        let codec = ProstCodec::<Request>::new();
        let request = Request {
            id: 99,
            name: "lookup".into(),
            blob: Bytes::from_static(b"\x00\x01\x02"),
        };

        let payload = codec.encode_to_bytes(&request).unwrap();

        assert_eq!(codec.decode(payload).unwrap(), request);
    }

    #[test]
    fn prost_encoding_appends_to_the_buffer() {
        let codec = ProstCodec::<Request>::new();
        let mut dst = BytesMut::from(&b"head"[..]);
        let request = Request {
            id: 1,
            ..Request::default()
        };

        codec.encode(&request, &mut dst).unwrap();

        assert_eq!(&dst[..4], b"head");
        assert_eq!(codec.decode(dst.freeze().slice(4..)).unwrap(), request);
    }

    #[test]
    fn a_bad_prost_payload_is_a_decode_error_naming_the_type() {
        let codec = ProstCodec::<Request>::new();

        let error = codec.decode(Bytes::from_static(&[0x0a, 0xff])).unwrap_err();

        assert!(
            matches!(error, PayloadError::Decode { type_name, .. } if type_name.ends_with("Request"))
        );
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn serde_values_round_trip_through_postcard() {
        let codec = PostcardCodec::<Reply>::new();
        let reply = Reply {
            id: 3,
            tokens: vec![Uid::new(1, 2), Uid::well_known(1)],
            note: Some("ok".into()),
        };

        let payload = codec.encode_to_bytes(&reply).unwrap();

        assert_eq!(codec.decode(payload).unwrap(), reply);
    }

    #[test]
    fn a_bad_postcard_payload_is_a_decode_error_naming_the_type() {
        let codec = PostcardCodec::<Reply>::new();

        let error = codec.decode(Bytes::from_static(&[0x01])).unwrap_err();

        assert!(
            matches!(error, PayloadError::Decode { type_name, .. } if type_name.ends_with("Reply"))
        );
    }

    proptest! {
        #[test]
        fn any_serde_value_round_trips(
            id in any::<u64>(),
            halves in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..10),
            note in proptest::option::of(".{0,20}"),
        ) {
            let codec = PostcardCodec::<Reply>::new();
            let reply = Reply {
                id,
                tokens: halves.into_iter().map(|(a, b)| Uid::new(a, b)).collect(),
                note,
            };

            let payload = codec.encode_to_bytes(&reply).unwrap();

            prop_assert_eq!(codec.decode(payload).unwrap(), reply);
        }
    }
}
