//! The event trace of one iteration and its stable hash.
//!
//! Every network event the fabric applies (and every host start or crash) is
//! folded into an FNV-1a 64 hash over a canonical little-endian encoding, with
//! the event's time as simulated time elapsed since the iteration started.
//! A segment contributes a digest of its bytes ([`segment_digest`]), so two
//! runs that carry
//! different bytes at the same times (a `Date` header, a random token)
//! differ in the hash, and the first differing event names them.
//! The same seed and workload give the same hash on every machine and every
//! run; std's `DefaultHasher` is never used because its output may change
//! between Rust releases.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::fault::FaultKind;

/// One network (or host lifecycle) event, as the fabric applied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetEvent {
    /// A host (re)started: its factory or workload began running.
    HostStarted {
        /// The host's address.
        host: Ipv4Addr,
        /// Its incarnation, 0 for the first start, +1 per restart.
        incarnation: u64,
    },
    /// A host crashed: its tasks were aborted and its sockets reset.
    HostCrashed {
        /// The host's address.
        host: Ipv4Addr,
        /// The incarnation that died.
        incarnation: u64,
    },
    /// A connection attempt reached a listener and was queued for `accept`.
    Accepted {
        /// The connecting end.
        client: SocketAddr,
        /// The listening end.
        server: SocketAddr,
    },
    /// A connection attempt found nobody listening and was refused.
    Refused {
        /// The connecting end.
        client: SocketAddr,
        /// The address it tried.
        server: SocketAddr,
    },
    /// The handshake reply reached the client: its `connect` completes.
    Established {
        /// The connecting end.
        client: SocketAddr,
        /// The accepting end.
        server: SocketAddr,
    },
    /// A segment of bytes arrived.
    Segment {
        /// Sending end.
        from: SocketAddr,
        /// Receiving end.
        to: SocketAddr,
        /// Bytes in the segment.
        len: u32,
        /// [`segment_digest`] of the bytes as delivered (after any injected
        /// bit flip), so the trace hash covers what was said, not only how
        /// much.
        digest: u32,
    },
    /// A FIN arrived: the receiver reads end-of-stream after the data before it.
    Fin {
        /// Sending end.
        from: SocketAddr,
        /// Receiving end.
        to: SocketAddr,
    },
    /// A RST arrived: the receiver's reads and writes fail from now on.
    Reset {
        /// Sending end.
        from: SocketAddr,
        /// Receiving end.
        to: SocketAddr,
    },
    /// A fault was injected (see `docs/fault-injection.md`).
    Fault {
        /// What fired.
        kind: FaultKind,
        /// Where: the sending end, or the host (port 0) for host faults.
        from: SocketAddr,
        /// The receiving end, or `0.0.0.0:0` when there is none.
        to: SocketAddr,
    },
}

/// Segments up to this many bytes are digested with FNV-1a, longer ones
/// with CRC-32C: for the few bytes of a typical request FNV-1a costs a
/// fifth of the CRC call, and for bulk data the hardware CRC is faster.
const SMALL_SEGMENT: usize = 32;

/// The 32-bit digest of a delivered segment in the trace: FNV-1a 32 of the
/// bytes for segments of up to 32 bytes, CRC-32C (Castagnoli) beyond.
/// Either way a change of any byte changes it, so two runs that carry
/// different bytes at the same times differ in their trace hash.
pub fn segment_digest(bytes: &[u8]) -> u32 {
    if bytes.len() <= SMALL_SEGMENT {
        bytes.iter().fold(0x811c_9dc5_u32, |hash, &byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        })
    } else {
        crc32c::crc32c(bytes)
    }
}

impl NetEvent {
    fn encode(&self, hasher: &mut Fnv1a64) {
        match *self {
            NetEvent::HostStarted { host, incarnation } => {
                hasher.write(&[1]);
                hasher.write(&host.octets());
                hasher.write(&incarnation.to_le_bytes());
            }
            NetEvent::HostCrashed { host, incarnation } => {
                hasher.write(&[2]);
                hasher.write(&host.octets());
                hasher.write(&incarnation.to_le_bytes());
            }
            NetEvent::Accepted { client, server } => pair(hasher, 3, client, server),
            NetEvent::Refused { client, server } => pair(hasher, 4, client, server),
            NetEvent::Established { client, server } => pair(hasher, 5, client, server),
            NetEvent::Segment {
                from,
                to,
                len,
                digest,
            } => {
                pair(hasher, 6, from, to);
                hasher.write(&len.to_le_bytes());
                hasher.write(&digest.to_le_bytes());
            }
            NetEvent::Fin { from, to } => pair(hasher, 7, from, to),
            NetEvent::Reset { from, to } => pair(hasher, 8, from, to),
            NetEvent::Fault { kind, from, to } => {
                pair(hasher, 9, from, to);
                hasher.write(&[u8::try_from(kind.index()).unwrap_or(u8::MAX)]);
            }
        }
    }
}

fn pair(hasher: &mut Fnv1a64, tag: u8, a: SocketAddr, b: SocketAddr) {
    hasher.write(&[tag]);
    addr(hasher, a);
    addr(hasher, b);
}

fn addr(hasher: &mut Fnv1a64, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => hasher.write(&ip.octets()),
        IpAddr::V6(ip) => hasher.write(&ip.octets()),
    }
    hasher.write(&addr.port().to_le_bytes());
}

impl fmt::Display for NetEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetEvent::HostStarted { host, incarnation } => {
                write!(f, "host {host} started (incarnation {incarnation})")
            }
            NetEvent::HostCrashed { host, incarnation } => {
                write!(f, "host {host} crashed (incarnation {incarnation})")
            }
            NetEvent::Accepted { client, server } => write!(f, "{client} -> {server} SYN queued"),
            NetEvent::Refused { client, server } => write!(f, "{client} -> {server} refused"),
            NetEvent::Established { client, server } => {
                write!(f, "{client} <- {server} established")
            }
            NetEvent::Segment {
                from,
                to,
                len,
                digest,
            } => write!(f, "{from} -> {to} {len} bytes (digest {digest:08x})"),
            NetEvent::Fin { from, to } => write!(f, "{from} -> {to} FIN"),
            NetEvent::Reset { from, to } => write!(f, "{from} -> {to} RST"),
            NetEvent::Fault { kind, from, to } => write!(f, "{from} -> {to} fault {kind}"),
        }
    }
}

/// An event with the simulated time at which it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceRecord {
    /// Simulated time since the iteration started.
    pub at: Duration,
    /// What happened.
    pub event: NetEvent,
}

/// The running trace of one iteration: a count, a stable hash, and (opt-in)
/// the list of records.
#[derive(Debug, Clone)]
pub struct EventTrace {
    hasher: Fnv1a64,
    count: u64,
    records: Option<Vec<TraceRecord>>,
}

impl EventTrace {
    /// An empty trace; `keep_records` also keeps every record in a `Vec`.
    pub fn new(keep_records: bool) -> Self {
        Self {
            hasher: Fnv1a64::new(),
            count: 0,
            records: keep_records.then(Vec::new),
        }
    }

    /// Appends one event that happened `at` after the iteration started.
    pub fn record(&mut self, at: Duration, event: NetEvent) {
        let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        self.hasher.write(&nanos.to_le_bytes());
        event.encode(&mut self.hasher);
        self.count += 1;
        if let Some(records) = &mut self.records {
            records.push(TraceRecord { at, event });
        }
    }

    /// The FNV-1a 64 hash of every event so far, in order.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    /// How many events were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The records, if they are kept.
    pub fn records(&self) -> Option<&[TraceRecord]> {
        self.records.as_deref()
    }

    /// Takes the kept records out (empty if records are not kept).
    pub fn take_records(&mut self) -> Vec<TraceRecord> {
        self.records
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

/// FNV-1a, 64-bit: a tiny hash whose output is fixed by its specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a64(u64);

impl Fnv1a64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The hash of the empty input.
    pub fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    /// Folds `bytes` into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        let hash = |s: &str| {
            let mut h = Fnv1a64::new();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_segment_digest_changes_with_any_byte() {
        for len in [1, 8, 32, 33, 4096] {
            let bytes = vec![7u8; len];
            let mut other = bytes.clone();
            other[len / 2] ^= 1;
            assert_ne!(
                segment_digest(&bytes),
                segment_digest(&other),
                "{len} bytes"
            );
        }
        // FNV-1a 32 of "a", the published vector.
        assert_eq!(segment_digest(b"a"), 0xe40c_292c);
        assert_eq!(segment_digest(&[0u8; 33]), crc32c::crc32c(&[0u8; 33]));
    }

    #[test]
    fn trace_hash_depends_on_time_and_order() {
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:2".parse().unwrap();
        let fin = NetEvent::Fin { from: a, to: b };
        let rst = NetEvent::Reset { from: a, to: b };
        let hash_of = |events: &[(u64, NetEvent)]| {
            let mut t = EventTrace::new(false);
            for (ms, e) in events {
                t.record(Duration::from_millis(*ms), *e);
            }
            t.hash()
        };
        let base = hash_of(&[(1, fin), (2, rst)]);
        assert_eq!(base, hash_of(&[(1, fin), (2, rst)]));
        assert_ne!(base, hash_of(&[(1, rst), (2, fin)]));
        assert_ne!(base, hash_of(&[(1, fin), (3, rst)]));
    }
}
