//! Watching tokio's thread RNG: did the iteration's code draw from it?
//!
//! tokio draws from a per-thread RNG for the branch order of an unbiased
//! `select!` and for the wake order of a `watch`'s waiters. Without
//! `--cfg tokio_unstable` it seeds that RNG from a counter shared by the
//! whole process, which no simulation can reach (see [`crate::os`]): two
//! runs of one seed in one process may then differ only because tokio's RNG
//! did. To tell that apart from real nondeterminism, the iteration learns
//! the RNG's state at its start and, at its end, how many numbers were
//! drawn since.
//!
//! tokio's generator is xorshift64+ on two 32-bit words, and its
//! [`thread_rng_n`] (public for the `select!` macro) reveals nearly the
//! whole output. The lowest bit of an output is the XOR of the lowest bits
//! of two state words, a linear function of the 64 starting bits over
//! GF(2), so [`PROBES`] outputs give a linear system whose solution is the
//! starting state. Every probe is then checked against the solved state:
//! should tokio ever change its generator, the check fails and the answer
//! is "unknown", never a wrong number.

use tokio::macros::support::thread_rng_n;

/// Outputs drawn to learn the state: 64 unknown bits, with a margin so the
/// system is all but certainly of full rank.
const PROBES: usize = 96;

/// Draws followed forward when looking for the end of the iteration's
/// draws; more than this many is reported as unknown.
const MAX_DRAWS: u64 = 1 << 20;

/// tokio's generator: xorshift64+ with the shift triplet [17, 7, 16].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FastRand {
    one: u32,
    two: u32,
}

impl FastRand {
    fn next(&mut self) -> u32 {
        let mut s1 = self.one;
        let s0 = self.two;
        s1 ^= s1 << 17;
        s1 = s1 ^ s0 ^ (s1 >> 7) ^ (s0 >> 16);
        self.one = s0;
        self.two = s1;
        s0.wrapping_add(s1)
    }
}

/// The same generator on masks: bit `b` of each word is the set of
/// starting bits (0..32 `one`, 32..64 `two`) whose XOR it equals.
struct Symbolic {
    one: [u64; 32],
    two: [u64; 32],
}

impl Symbolic {
    fn start() -> Self {
        Self {
            one: std::array::from_fn(|bit| 1 << bit),
            two: std::array::from_fn(|bit| 1 << (32 + bit)),
        }
    }

    /// Steps the generator; returns the mask of the output's lowest bit.
    fn next(&mut self) -> u64 {
        let s0 = self.two;
        let mut s1 = self.one;
        // s1 ^= s1 << 17
        for bit in (17..32).rev() {
            s1[bit] ^= s1[bit - 17];
        }
        // s1 = s1 ^ s0 ^ (s1 >> 7) ^ (s0 >> 16)
        let shifted = s1;
        let mut next = [0u64; 32];
        for bit in 0..32 {
            next[bit] = shifted[bit] ^ s0[bit];
            if bit + 7 < 32 {
                next[bit] ^= shifted[bit + 7];
            }
            if bit + 16 < 32 {
                next[bit] ^= s0[bit + 16];
            }
        }
        self.one = s0;
        self.two = next;
        // The lowest bit of a sum is the XOR of the lowest bits.
        s0[0] ^ next[0]
    }
}

/// Solves `mask · x = bit` over GF(2) for the 64-bit `x`; `None` if the
/// equations do not determine it.
fn solve(mut rows: Vec<(u64, bool)>) -> Option<u64> {
    let mut x = 0u64;
    let mut pivots = Vec::with_capacity(64);
    for bit in 0..64 {
        let found = (pivots.len()..rows.len()).find(|&r| rows[r].0 >> bit & 1 == 1)?;
        let row = pivots.len();
        rows.swap(row, found);
        let (mask, rhs) = rows[row];
        for (other, entry) in rows.iter_mut().enumerate() {
            if other != row && entry.0 >> bit & 1 == 1 {
                entry.0 ^= mask;
                entry.1 ^= rhs;
            }
        }
        pivots.push(bit);
    }
    for (row, &bit) in pivots.iter().enumerate() {
        if rows[row].1 {
            x |= 1 << bit;
        }
    }
    Some(x)
}

/// An output from `thread_rng_n(u32::MAX)`, which is the raw output minus
/// one (for every output but 0).
fn draw() -> u32 {
    thread_rng_n(u32::MAX).wrapping_add(1)
}

/// The state of tokio's thread RNG as learnt at the start of an iteration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokioRng {
    /// The generator after the probes: the next outputs are what an
    /// iteration that draws nothing leaves for the final check.
    after_probes: FastRand,
}

impl TokioRng {
    /// Draws [`PROBES`] numbers from this thread's tokio RNG and solves for
    /// its state; `None` when the numbers do not fit tokio's generator.
    pub(crate) fn learn() -> Option<Self> {
        let outputs: Vec<u32> = (0..PROBES).map(|_| draw()).collect();
        let mut symbolic = Symbolic::start();
        let rows = outputs
            .iter()
            .map(|output| (symbolic.next(), output & 1 == 1))
            .collect();
        let start = solve(rows)?;
        let mut rng = FastRand {
            one: start as u32,
            two: (start >> 32) as u32,
        };
        outputs
            .iter()
            .all(|&output| rng.next() == output)
            .then_some(Self { after_probes: rng })
    }

    /// How many numbers were drawn since [`learn`](Self::learn): two more
    /// draws are matched against the generator's sequence. `None` beyond
    /// [`MAX_DRAWS`] or when nothing matches.
    pub(crate) fn draws_since(&self) -> Option<u64> {
        let (first, second) = (draw(), draw());
        let mut ahead = self.after_probes;
        let mut current = ahead.next();
        for drawn in 0..=MAX_DRAWS {
            let next = ahead.next();
            if current == first && next == second {
                return Some(drawn);
            }
            current = next;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_runtime<T>(f: impl FnOnce() -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async { f() })
    }

    #[test]
    fn the_symbolic_generator_predicts_the_lowest_bits() {
        let start: u64 = 0x1234_5678_9abc_def1;
        let mut concrete = FastRand {
            one: start as u32,
            two: (start >> 32) as u32,
        };
        let mut symbolic = Symbolic::start();
        for _ in 0..200 {
            let mask = symbolic.next();
            let bit = (mask & start).count_ones() & 1 == 1;
            assert_eq!(concrete.next() & 1 == 1, bit);
        }
    }

    #[test]
    fn the_state_is_learnt_and_no_draw_is_seen_as_none() {
        in_runtime(|| {
            let rng = TokioRng::learn().expect("tokio's generator is xorshift64+");
            assert_eq!(rng.draws_since(), Some(0));
        });
    }

    #[test]
    fn draws_by_select_and_watch_are_counted() {
        in_runtime(|| {
            let rng = TokioRng::learn().unwrap();
            for _ in 0..5 {
                let _ = thread_rng_n(3);
            }
            assert_eq!(rng.draws_since(), Some(5));
        });
    }
}
