//! Encode+decode throughput of [`PacketCodec`] against tokio-util's
//! `LengthDelimitedCodec` (u32 little-endian length), and the CRC-32C
//! throughput that bounds the difference.
//!
//! ```sh
//! cargo bench -p moonpool-codec --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! After criterion's groups, the benchmark measures both codecs again in
//! this process, alternating them round by round so both see the same
//! machine load, and prints one line per payload size: ours, the reference,
//! and the ratio.
//!
//! Under each line it prints two ceilings, from figures measured in the same
//! rounds, to tell the codec's cost from the wire format's:
//! - *any checking codec*: the reference plus one plain read of the checked
//!   bytes (token and payload), the least a decoder that checks every byte
//!   must add to a reference that only copies them on encode and splits
//!   them off on decode. No checksum, however fast, beats a plain read;
//! - *CRC-32C here*: the reference plus two passes of the `crc32c` crate
//!   over the same bytes (the encoder sums, the decoder checks), which is
//!   what `PacketCodec` does on top of the reference's work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput};
use moonpool_codec::{HEADER_LEN, Packet, PacketCodec, Uid};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// The payload sizes measured, with their labels.
const SIZES: [(usize, &str); 3] = [(64, "64 B"), (1024, "1 KiB"), (64 * 1024, "64 KiB")];

/// Rounds per codec in the closing comparison, and the length of each.
const RATIO_ROUNDS: usize = 7;
const RATIO_ROUND: Duration = Duration::from_millis(150);

/// A read/write buffer with room for a few frames, as a `Framed` buffer has.
///
/// `LengthDelimitedCodec` reserves room for the next header right after it
/// splits a frame off, while that frame still shares the buffer. When the
/// split leaves less than a header of room, that reservation allocates a
/// fresh buffer, and the benchmark would measure the allocator (glibc's
/// mmap threshold, even) instead of the codec. Room for four frames plus
/// some slack means a split never leaves the buffer full, and a buffer
/// that has been consumed whole is reclaimed in place by the next encode.
/// Both codecs get the same buffer.
fn buffer(len: usize) -> BytesMut {
    BytesMut::with_capacity(4 * (len + HEADER_LEN) + 64)
}

fn payload(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 31 + 7) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn reference_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_type::<u32>()
        .little_endian()
        .max_frame_length(moonpool_codec::DEFAULT_MAX_FRAME_LENGTH)
        .new_codec()
}

/// One packet through our encoder and decoder, the buffer reused.
fn ours(codec: &mut PacketCodec, buf: &mut BytesMut, packet: &Packet) {
    codec.encode(packet.clone(), buf).unwrap();
    black_box(codec.decode(buf).unwrap().unwrap());
}

/// One payload through `LengthDelimitedCodec`, the buffer reused.
fn reference(codec: &mut LengthDelimitedCodec, buf: &mut BytesMut, payload: &Bytes) {
    codec.encode(payload.clone(), buf).unwrap();
    black_box(codec.decode(buf).unwrap().unwrap());
}

fn round_trips(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode+decode");
    for (len, label) in SIZES {
        let payload = payload(len);
        let packet = Packet::new(Uid::new(1, 2), payload.clone());
        group.throughput(Throughput::Bytes(len as u64));
        // Codec and buffer live across criterion's samples, as they do
        // across the frames of a connection.
        let (mut codec, mut buf) = (PacketCodec::new(), buffer(len));
        group.bench_function(BenchmarkId::new("PacketCodec", label), |b| {
            b.iter(|| ours(&mut codec, &mut buf, black_box(&packet)));
        });
        let (mut codec, mut buf) = (reference_codec(), buffer(len));
        group.bench_function(BenchmarkId::new("LengthDelimitedCodec", label), |b| {
            b.iter(|| reference(&mut codec, &mut buf, black_box(&payload)));
        });
    }
    group.finish();
}

fn checksums(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc32c");
    for (len, label) in SIZES {
        let payload = payload(len + 16);
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_function(BenchmarkId::new("crc32c crate", label), |b| {
            b.iter(|| crc32c::crc32c(black_box(&payload)));
        });
    }
    group.finish();
}

/// Bytes of payload per second through `step`, over one round.
// Wall time measures the benchmark only; it never feeds behaviour.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn round_throughput(len: usize, mut step: impl FnMut()) -> f64 {
    let start = std::time::Instant::now();
    let mut count = 0u64;
    while start.elapsed() < RATIO_ROUND {
        for _ in 0..64 {
            step();
        }
        count += 64;
    }
    (count as f64 * len as f64) / start.elapsed().as_secs_f64()
}

/// One plain read of `bytes`, folded so it cannot be optimised away: the
/// floor under any checksum of them.
fn read_once(bytes: &[u8]) -> u64 {
    let mut lanes = [0u64; 4];
    let mut chunks = bytes.chunks_exact(32);
    for chunk in &mut chunks {
        for (lane, word) in lanes.iter_mut().zip(chunk.chunks_exact(8)) {
            *lane ^= u64::from_le_bytes(word.try_into().unwrap());
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0, |acc, &b| acc << 8 ^ u64::from(b));
    lanes.iter().fold(tail, |acc, lane| acc ^ lane)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn gib(bytes_per_second: f64) -> f64 {
    bytes_per_second / (1u64 << 30) as f64
}

/// The closing comparison: both codecs, alternated, in this process, and
/// the ceilings the wire format puts on the ratio.
fn print_ratios() {
    println!();
    println!(
        "PacketCodec vs LengthDelimitedCodec, encode+decode, median of {RATIO_ROUNDS} alternated rounds:"
    );
    for (len, label) in SIZES {
        // As many bytes as the checksum covers: the token and the payload.
        let checked = payload(len + 16);
        let payload = payload(len);
        let packet = Packet::new(Uid::new(1, 2), payload.clone());
        let (mut our_codec, mut our_buf) = (PacketCodec::new(), buffer(len));
        let (mut ref_codec, mut ref_buf) = (reference_codec(), buffer(len));
        let (mut ours_r, mut reference_r, mut read_r, mut crc_r) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RATIO_ROUNDS {
            ours_r.push(round_throughput(len, || {
                ours(&mut our_codec, &mut our_buf, black_box(&packet))
            }));
            reference_r.push(round_throughput(len, || {
                reference(&mut ref_codec, &mut ref_buf, black_box(&payload))
            }));
            read_r.push(round_throughput(len, || {
                black_box(read_once(black_box(&checked)));
            }));
            crc_r.push(round_throughput(len, || {
                black_box(crc32c::crc32c(black_box(&checked)));
            }));
        }
        let (our, reference) = (median(ours_r), median(reference_r));
        // Seconds per frame, so the extra work adds up.
        let per_frame = |throughput: f64| len as f64 / throughput;
        let (reference_s, read_s, crc_s) = (
            per_frame(reference),
            per_frame(median(read_r)),
            per_frame(median(crc_r)),
        );
        println!(
            "codec {label:>6}: PacketCodec {:7.2} GiB/s, LengthDelimitedCodec {:7.2} GiB/s, ratio {:.2}x",
            gib(our),
            gib(reference),
            our / reference
        );
        println!(
            "              ceiling for any checking codec {:.2}x; with CRC-32C here (2 passes) {:.2}x",
            reference_s / (reference_s + read_s),
            reference_s / (reference_s + 2.0 * crc_s),
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    round_trips(&mut criterion);
    checksums(&mut criterion);
    criterion.final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then criterion only checks that each routine runs once.
    if std::env::args().any(|arg| arg == "--bench") {
        print_ratios();
    }
}
