//! Deriving independent seeds from the iteration's seed: one for the network's
//! latency draws, one per host RNG stream.

/// Tags the network's own stream so it never coincides with a host stream.
pub(crate) const NET_STREAM: u64 = 0x6e65_745f_6c61_7465;

/// Mixes `parts` into `seed` with splitmix64 steps: distinct inputs give
/// unrelated seeds.
pub(crate) fn derive_seed(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(splitmix64(seed), |acc, &part| {
        splitmix64(acc ^ splitmix64(part))
    })
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
