//! Properties over generated packets, cuts and garbage.

use bytes::BytesMut;
use moonpool_codec::{Packet, PacketCodec, Uid, WireError};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

use crate::{decode_all, frame_of};

fn packet() -> impl Strategy<Value = Packet> {
    (
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(first, second, payload)| Packet::new(Uid::new(first, second), payload))
}

/// Feeds `stream` to `codec` in pieces of the given sizes (cycled), checking
/// after each decode that the buffer's capacity is under four times what
/// was fed (plus the smallest allocation). Returns what was decoded, or the
/// first error.
fn feed_in_pieces(
    codec: &mut PacketCodec,
    stream: &[u8],
    pieces: &[usize],
) -> Result<Vec<Packet>, WireError> {
    let mut buf = BytesMut::new();
    let mut decoded = Vec::new();
    let mut fed = 0;
    for &piece in pieces.iter().cycle() {
        if fed == stream.len() {
            break;
        }
        let end = (fed + piece).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        let result = decode_all(codec, &mut buf);
        assert!(
            buf.capacity() <= 4 * fed + 64,
            "{} bytes reserved after {fed} fed",
            buf.capacity()
        );
        decoded.extend(result?);
    }
    if let Some(packet) = codec.decode_eof(&mut buf)? {
        decoded.push(packet);
    }
    Ok(decoded)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn packets_survive_any_cutting_of_the_stream(
        packets in proptest::collection::vec(packet(), 0..8),
        pieces in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let stream: Vec<u8> = packets.iter().flat_map(|p| frame_of(p).to_vec()).collect();

        let decoded = feed_in_pieces(&mut PacketCodec::new(), &stream, &pieces).unwrap();

        prop_assert_eq!(decoded, packets);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_memory_follows_the_input(
        garbage in proptest::collection::vec(any::<u8>(), 0..2048),
        pieces in proptest::collection::vec(1usize..512, 1..8),
        huge_maximum in any::<bool>(),
    ) {
        // With the largest maximum, any length field of 24 or more is valid:
        // only the growth rule keeps memory bounded.
        let mut codec = if huge_maximum {
            PacketCodec::with_max_frame_length(usize::MAX)
        } else {
            PacketCodec::new()
        };

        let _ = feed_in_pieces(&mut codec, &garbage, &pieces);
    }

    #[test]
    fn garbage_after_a_valid_length_and_a_header_is_never_mistaken_for_a_packet(
        packet in packet(),
        garbage_at in 4usize..324,
        xor in 1u8..=255,
    ) {
        let mut frame = frame_of(&packet);
        let at = 4 + garbage_at % (frame.len() - 4);
        frame[at] ^= xor;

        let result = PacketCodec::new().decode(&mut frame);

        prop_assert!(matches!(result, Err(WireError::ChecksumMismatch { .. })), "{:?}", result);
    }

    #[test]
    fn the_encoded_length_is_the_header_plus_the_payload(packet in packet()) {
        let mut buf = BytesMut::new();

        PacketCodec::new().encode_packet(&packet, &mut buf).unwrap();

        prop_assert_eq!(buf.len(), 24 + packet.payload.len());
        prop_assert_eq!(&buf[..4], &(buf.len() as u32).to_le_bytes()[..]);
    }
}
