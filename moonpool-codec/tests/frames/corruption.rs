//! Damaged frames: every single-bit flip of sample frames, exhaustively.

use bytes::BytesMut;
use moonpool_codec::{HEADER_LEN, PacketCodec, Uid, WireError};
use tokio_util::codec::Decoder;

use crate::{decode_all, frame_of, sample_packet};

/// Frames of several shapes: empty, short, odd-sized, a few KiB.
fn sample_frames() -> Vec<BytesMut> {
    [
        (Uid::well_known(1), 0),
        (Uid::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210), 5),
        (Uid::new(u64::MAX - 1, 0), 97),
        (Uid::new(7, 7), 3000),
    ]
    .into_iter()
    .map(|(token, len)| frame_of(&sample_packet(token, len)))
    .collect()
}

fn flipped(frame: &[u8], bit: usize) -> BytesMut {
    let mut damaged = BytesMut::from(frame);
    damaged[bit / 8] ^= 1 << (bit % 8);
    damaged
}

#[test]
fn every_single_bit_flip_after_the_length_is_a_checksum_mismatch() {
    for frame in sample_frames() {
        for bit in 32..frame.len() * 8 {
            let mut damaged = flipped(&frame, bit);

            let result = PacketCodec::new().decode(&mut damaged);

            assert!(
                matches!(result, Err(WireError::ChecksumMismatch { .. })),
                "bit {bit} of a {}-byte frame: {result:?}",
                frame.len()
            );
        }
    }
}

#[test]
fn a_checksum_mismatch_reports_the_field_and_the_computed_sum() {
    let frame = frame_of(&sample_packet(Uid::new(1, 2), 10));
    let mut damaged = flipped(&frame, HEADER_LEN * 8);
    let field = u32::from_le_bytes(frame[4..8].try_into().unwrap());

    let error = PacketCodec::new().decode(&mut damaged).unwrap_err();

    let WireError::ChecksumMismatch { expected, actual } = error else {
        panic!("expected a checksum mismatch, got {error:?}");
    };
    assert_eq!(expected, field);
    assert_eq!(
        actual,
        moonpool_codec::frame_checksum(Uid::new(1, 2), &damaged[HEADER_LEN..])
    );
}

#[test]
fn no_single_bit_flip_of_the_length_yields_a_packet() {
    for frame in sample_frames() {
        // The damaged frame alone, the end of the stream after it, and the
        // damaged frame followed by a good one: a shorter length must not
        // resynchronise on the wrong boundary, a longer one must not
        // swallow the next frame into a packet.
        let follower = frame_of(&sample_packet(Uid::new(9, 9), 40));
        for bit in 0..32 {
            let damaged = flipped(&frame, bit);

            let mut alone = damaged.clone();
            let result = PacketCodec::new().decode(&mut alone);
            assert!(
                !matches!(result, Ok(Some(_))),
                "bit {bit} alone: {result:?}"
            );
            let at_eof = PacketCodec::new().decode_eof(&mut alone);
            assert!(at_eof.is_err(), "bit {bit} at end of stream: {at_eof:?}");

            let mut followed = damaged.clone();
            followed.extend_from_slice(&follower);
            let result = decode_all(&mut PacketCodec::new(), &mut followed);
            assert!(
                matches!(result, Ok(ref packets) if packets.is_empty()) || result.is_err(),
                "bit {bit} followed by a frame: {result:?}"
            );
        }
    }
}

#[test]
fn a_bad_frame_is_reported_again_if_decoding_goes_on() {
    let frame = frame_of(&sample_packet(Uid::new(3, 4), 16));
    let mut damaged = flipped(&frame, 200);
    damaged.extend_from_slice(&frame);
    let mut codec = PacketCodec::new();

    let first = codec.decode(&mut damaged).unwrap_err();
    let second = codec.decode(&mut damaged).unwrap_err();

    assert_eq!(format!("{first:?}"), format!("{second:?}"));
    assert_eq!(damaged.len(), 2 * frame.len(), "nothing was consumed");
}
