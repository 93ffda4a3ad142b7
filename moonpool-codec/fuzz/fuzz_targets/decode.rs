//! Arbitrary bytes, cut into reads of a size the first byte picks (1 to
//! 128), through `PacketCodec`'s decoder.
//!
//! Checks, beyond "no panic": the buffer's capacity stays under four times
//! the bytes fed (the decoder reserves at most what has arrived, and
//! `BytesMut` at most doubles an allocation), and every packet decoded
//! re-encodes to exactly the bytes it was decoded from.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use moonpool_codec::PacketCodec;
use tokio_util::codec::Decoder;

fuzz_target!(|input: &[u8]| {
    let Some((&shape, stream)) = input.split_first() else {
        return;
    };
    // The first byte shapes the run: the read size, and whether the maximum
    // is the default or the largest the length field allows.
    let read_size = usize::from(shape & 0x7f) + 1;
    let mut codec = if shape & 0x80 == 0 {
        PacketCodec::new()
    } else {
        PacketCodec::with_max_frame_length(usize::MAX)
    };
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut consumed = 0;
    for read in stream.chunks(read_size) {
        buf.extend_from_slice(read);
        fed += read.len();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(packet)) => {
                    let mut again = BytesMut::new();
                    codec.encode_packet(&packet, &mut again).unwrap();
                    assert_eq!(&again[..], &stream[consumed..consumed + again.len()]);
                    consumed += again.len();
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= 4 * fed + 64, "{} for {fed}", buf.capacity());
    }
    let _ = codec.decode_eof(&mut buf);
});
