//! Arbitrary bytes, cut into arbitrary reads, through `PacketCodec`'s
//! decoder.
//!
//! Checks, beyond "no panic": memory stays within twice the bytes fed (plus
//! slack), and every packet decoded re-encodes to exactly the bytes it was
//! decoded from.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use moonpool_codec::PacketCodec;
use tokio_util::codec::{Decoder, Encoder};

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
                    codec.encode(&packet, &mut again).unwrap();
                    assert_eq!(&again[..], &stream[consumed..consumed + again.len()]);
                    consumed += again.len();
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= 2 * fed + 8 * 1024, "{} for {fed}", buf.capacity());
    }
    let _ = codec.decode_eof(&mut buf);
});
