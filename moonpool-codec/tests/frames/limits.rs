//! Lengths and memory: what a peer's length field can and cannot make the
//! decoder do, and what the encoder refuses.

use bytes::{BufMut, BytesMut};
use moonpool_codec::{DEFAULT_MAX_FRAME_LENGTH, HEADER_LEN, Packet, PacketCodec, Uid, WireError};
use tokio_util::codec::{Decoder, Encoder};

use crate::{frame_of, sample_packet};

/// A few KiB: what a claimed frame may cost before its bytes arrive.
const FEW_KIB: usize = 4 * 1024;

fn header_claiming(len: u32) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_u32_le(len);
    buf.put_bytes(0xab, HEADER_LEN - 4);
    buf
}

#[test]
fn the_default_maximum_is_8_mib() {
    assert_eq!(DEFAULT_MAX_FRAME_LENGTH, 8 * 1024 * 1024);
    assert_eq!(
        PacketCodec::new().max_frame_length(),
        DEFAULT_MAX_FRAME_LENGTH
    );
    assert_eq!(PacketCodec::default(), PacketCodec::new());
}

#[test]
fn a_claimed_4_gib_frame_is_refused_without_allocating() {
    let mut buf = header_claiming(u32::MAX);

    let error = PacketCodec::new().decode(&mut buf).unwrap_err();

    assert!(matches!(
        error,
        WireError::FrameTooLarge { len, max }
            if len == u32::MAX as usize && max == DEFAULT_MAX_FRAME_LENGTH
    ));
    assert!(buf.capacity() <= FEW_KIB, "capacity {}", buf.capacity());
}

#[test]
fn a_length_over_the_maximum_is_refused_from_the_length_field_alone() {
    let mut codec = PacketCodec::with_max_frame_length(1000);
    let mut buf = BytesMut::from(&1001u32.to_le_bytes()[..]);

    let error = codec.decode(&mut buf).unwrap_err();

    assert!(matches!(
        error,
        WireError::FrameTooLarge {
            len: 1001,
            max: 1000
        }
    ));
    assert_eq!(buf.capacity(), 4, "no reservation was made");
}

#[test]
fn a_length_shorter_than_the_header_is_refused() {
    for len in 0..HEADER_LEN as u32 {
        let mut buf = BytesMut::from(&len.to_le_bytes()[..]);

        let error = PacketCodec::new().decode(&mut buf).unwrap_err();

        assert!(
            matches!(error, WireError::FrameTooShort { len: l } if l == len as usize),
            "{error:?}"
        );
        assert_eq!(buf.capacity(), 4);
    }
}

#[test]
fn a_frame_of_exactly_the_maximum_is_accepted() {
    let mut codec = PacketCodec::with_max_frame_length(HEADER_LEN + 100);
    let packet = sample_packet(Uid::new(1, 1), 100);
    let mut buf = BytesMut::new();

    codec.encode_packet(&packet, &mut buf).unwrap();

    assert_eq!(codec.decode(&mut buf).unwrap(), Some(packet));
}

#[test]
fn a_valid_but_huge_claim_grows_the_buffer_only_with_the_bytes_received() {
    // The largest frame the length field allows is accepted by this codec,
    // yet its header alone must not make the buffer grow towards 4 GiB.
    let mut codec = PacketCodec::with_max_frame_length(usize::MAX);
    let mut buf = header_claiming(u32::MAX);

    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() <= FEW_KIB, "capacity {}", buf.capacity());

    // As bytes arrive the buffer follows them: the decoder reserves at
    // most as much again as has arrived, and `BytesMut` at most doubles
    // that allocation.
    buf.put_bytes(0, 10_000);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() <= 4 * buf.len() + FEW_KIB);
}

#[test]
fn a_claim_fed_slowly_keeps_capacity_under_four_times_the_bytes_received() {
    // Frame after frame of reads, never completing a claimed 4 GiB frame:
    // after every read and decode, capacity is bounded by what arrived.
    for read in [1, 7, 100, 1000, 4096] {
        let mut codec = PacketCodec::with_max_frame_length(usize::MAX);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let claim = header_claiming(u32::MAX);
        let stream = claim.iter().copied().chain(std::iter::repeat(0x5a));
        let mut stream = stream.take(200_000);
        loop {
            let piece: Vec<u8> = stream.by_ref().take(read).collect();
            if piece.is_empty() {
                break;
            }
            buf.extend_from_slice(&piece);
            fed += piece.len();
            assert!(codec.decode(&mut buf).unwrap().is_none());
            assert!(
                buf.capacity() <= 4 * fed + 64,
                "reads of {read}: capacity {} after {fed} bytes",
                buf.capacity()
            );
        }
    }
}

#[test]
fn a_large_frame_arriving_in_pieces_decodes() {
    let packet = sample_packet(Uid::new(8, 8), 3 * 1024 * 1024);
    let frame = frame_of(&packet);
    let mut codec = PacketCodec::new();
    let mut buf = BytesMut::new();
    let mut decoded = None;

    for piece in frame.chunks(64 * 1024) {
        assert!(decoded.is_none());
        buf.extend_from_slice(piece);
        decoded = codec.decode(&mut buf).unwrap();
    }

    assert_eq!(decoded, Some(packet));
}

#[test]
fn the_maximum_is_clamped_to_the_header_and_the_length_field() {
    assert_eq!(
        PacketCodec::with_max_frame_length(0).max_frame_length(),
        HEADER_LEN
    );
    assert_eq!(
        PacketCodec::with_max_frame_length(0).max_payload_length(),
        0
    );
    assert_eq!(
        PacketCodec::with_max_frame_length(usize::MAX).max_frame_length(),
        u32::MAX as usize
    );
    assert_eq!(
        PacketCodec::with_max_frame_length(4096).max_payload_length(),
        4072
    );
}

#[test]
fn encoding_a_packet_over_the_maximum_is_an_error_and_writes_nothing() {
    let mut codec = PacketCodec::with_max_frame_length(HEADER_LEN + 10);
    let mut buf = BytesMut::from(&b"earlier"[..]);

    let error = codec
        .encode(Packet::new(Uid::new(1, 1), vec![0u8; 11]), &mut buf)
        .unwrap_err();

    assert!(matches!(
        error,
        WireError::FrameTooLarge { len: 35, max: 34 }
    ));
    assert_eq!(&buf[..], b"earlier");
}

#[test]
fn encoding_appends_after_what_the_buffer_holds() {
    let packet = sample_packet(Uid::new(2, 3), 10);
    let mut buf = BytesMut::from(&b"xy"[..]);

    PacketCodec::new().encode(packet.clone(), &mut buf).unwrap();

    assert_eq!(&buf[..2], b"xy");
    assert_eq!(&buf[2..], &frame_of(&packet)[..]);
    assert_eq!(packet.frame_len(), buf.len() - 2);
}

#[test]
fn the_end_of_stream_inside_a_frame_is_truncated() {
    let frame = frame_of(&sample_packet(Uid::new(4, 4), 30));

    for cut in 1..frame.len() {
        let mut buf = BytesMut::from(&frame[..cut]);

        let error = PacketCodec::new().decode_eof(&mut buf).unwrap_err();

        let expected = (cut >= 4).then_some(frame.len());
        assert!(
            matches!(error, WireError::Truncated { buffered, expected: e }
                if buffered == cut && e == expected),
            "cut at byte {cut}: {error:?}"
        );
    }
}

#[test]
fn the_end_of_stream_between_frames_is_clean() {
    let mut buf = frame_of(&sample_packet(Uid::new(4, 4), 30));
    let mut codec = PacketCodec::new();

    assert!(codec.decode_eof(&mut buf).unwrap().is_some());
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
}

#[test]
fn wire_errors_convert_to_invalid_data_io_errors() {
    let io: std::io::Error = WireError::FrameTooShort { len: 3 }.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);

    let inner = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
    let io: std::io::Error = WireError::Io(inner).into();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
}
