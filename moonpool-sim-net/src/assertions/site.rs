//! Where a `buggify!`, `always!` or `sometimes!` call sits in the source.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{self, AtomicUsize};

/// Slots handed out so far (slot 0 means "not assigned yet").
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);

/// A macro call site: file, line and column, as `file!()`, `line!()` and
/// `column!()` give them.
///
/// The macros create one `static Site` per call, so a site's identity is
/// stable across iterations and runs of the same binary. Equality, order
/// and hash are those of (file, line, column).
#[derive(Debug)]
pub struct Site {
    /// Source file, as `file!()` gives it.
    pub file: &'static str,
    /// Line, 1-based.
    pub line: u32,
    /// Column, 1-based.
    pub column: u32,
    /// A small process-wide index, assigned on first use, that per-iteration
    /// records use as a vector index so the macros stay cheap in hot loops.
    /// It only locates a site's record; no decision ever depends on it.
    slot: AtomicUsize,
}

impl Site {
    /// A site at `file:line:column`.
    pub const fn new(file: &'static str, line: u32, column: u32) -> Self {
        Self {
            file,
            line,
            column,
            slot: AtomicUsize::new(0),
        }
    }

    /// The site's slot, assigned on first use (0-based).
    pub(crate) fn slot(&self) -> usize {
        let slot = self.slot.load(atomic::Ordering::Relaxed);
        if slot != 0 {
            return slot - 1;
        }
        let fresh = NEXT_SLOT.fetch_add(1, atomic::Ordering::Relaxed);
        // Two threads may race to assign: the first store wins for both.
        match self.slot.compare_exchange(
            0,
            fresh,
            atomic::Ordering::Relaxed,
            atomic::Ordering::Relaxed,
        ) {
            Ok(_) => fresh - 1,
            Err(assigned) => assigned - 1,
        }
    }

    fn key(&self) -> (&'static str, u32, u32) {
        (self.file, self.line, self.column)
    }

    /// A stable 64-bit hash of the site (FNV-1a over file, line, column).
    ///
    /// Stable across runs and platforms, unlike `std`'s hasher, so a site's
    /// buggify decision for a seed never changes between two runs.
    pub fn stable_hash(&self) -> u64 {
        const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = FNV_OFFSET;
        let bytes = self
            .file
            .bytes()
            .chain(self.line.to_le_bytes())
            .chain(self.column.to_le_bytes());
        for byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
        hash
    }
}

impl PartialEq for Site {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Site {}

impl PartialOrd for Site {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Site {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl Hash for Site {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// SplitMix64's finaliser: a bijective mix of 64 bits, used to derive
/// independent streams and per-site decisions from one seed.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Maps 64 random bits to a float in `[0, 1)` using the top 53 bits.
pub(crate) fn unit_interval(bits: u64) -> f64 {
    // 2^-53: the spacing of doubles in [0.5, 1).
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (bits >> 11) as f64 * SCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_depends_on_every_coordinate() {
        let base = Site::new("a.rs", 1, 1);
        assert_ne!(base.stable_hash(), Site::new("b.rs", 1, 1).stable_hash());
        assert_ne!(base.stable_hash(), Site::new("a.rs", 2, 1).stable_hash());
        assert_ne!(base.stable_hash(), Site::new("a.rs", 1, 2).stable_hash());
        assert_eq!(base.stable_hash(), Site::new("a.rs", 1, 1).stable_hash());
    }

    #[test]
    fn slots_are_distinct_and_stable() {
        static A: Site = Site::new("a.rs", 1, 1);
        static B: Site = Site::new("a.rs", 1, 1);
        assert_eq!(A.slot(), A.slot());
        assert_ne!(A.slot(), B.slot());
        assert_eq!(A, B, "equality is by coordinates");
    }

    #[test]
    fn unit_interval_stays_below_one() {
        assert_eq!(unit_interval(0), 0.0);
        assert!(unit_interval(u64::MAX) < 1.0);
    }
}
