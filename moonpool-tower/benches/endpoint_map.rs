//! Endpoint lookup cost with 10 and with 100,000 registered endpoints:
//! well-known tokens (the fixed array) against dynamic tokens (the hash
//! map), with the `BTreeMap` every token used to live in as the reference.
//!
//! ```sh
//! cargo bench -p moonpool-tower --bench endpoint_map -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Each map holds `n` endpoints: 8 application well-known tokens
//! (indices 64..72) and `n - 8` random tokens. A lookup cycles through the
//! registered tokens of its kind so the branch predictor cannot learn one
//! key. After criterion's groups the benchmark measures each case again,
//! case after case in rounds so all see the same machine load, and prints
//! the median nanoseconds per lookup and the ratio of 100,000 to 10: close
//! to 1 for the well-known path (flat), above 1 for the trees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Wall-clock measurement is the point of a benchmark; it never feeds
// behaviour.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use moonpool_codec::Uid;
use moonpool_tower::endpoint::EndpointMap;
use moonpool_tower::transport::EndpointConfig;
use rand::SeedableRng;
use rand::rngs::StdRng;

const SIZES: [usize; 2] = [10, 100_000];
const WELL_KNOWN: u32 = 8;
/// Lookups per timed sample of the closing comparison, and samples.
const LOOKUPS: usize = 1 << 20;
const ROUNDS: usize = 9;

struct Maps {
    map: EndpointMap<u64>,
    tree: BTreeMap<Uid, u64>,
    well_known: Vec<Uid>,
    dynamic: Vec<Uid>,
}

fn maps(n: usize) -> Maps {
    let mut rng = StdRng::seed_from_u64(22);
    let well_known: Vec<Uid> = (64..64 + WELL_KNOWN).map(Uid::well_known).collect();
    let dynamic: Vec<Uid> = (0..n - WELL_KNOWN as usize)
        .map(|_| Uid::random(&mut rng))
        .collect();
    let mut map = EndpointMap::new(EndpointConfig::default().well_known_slots);
    let mut tree = BTreeMap::new();
    for (value, token) in well_known.iter().chain(&dynamic).enumerate() {
        map.insert(*token, value as u64);
        tree.insert(*token, value as u64);
    }
    Maps {
        map,
        tree,
        well_known,
        dynamic,
    }
}

/// The cases: name, and a lookup of the `i`th key of its kind.
type Case = (&'static str, fn(&Maps, usize) -> Option<u64>);

const CASES: [Case; 4] = [
    ("well_known/array", |m, i| {
        m.map.get(&m.well_known[i % m.well_known.len()]).copied()
    }),
    ("dynamic/hash", |m, i| {
        m.map.get(&m.dynamic[i % m.dynamic.len()]).copied()
    }),
    ("well_known/btree", |m, i| {
        m.tree.get(&m.well_known[i % m.well_known.len()]).copied()
    }),
    ("dynamic/btree", |m, i| {
        m.tree.get(&m.dynamic[i % m.dynamic.len()]).copied()
    }),
];

fn criterion_groups(c: &mut Criterion, all: &[(usize, Maps)]) {
    let mut group = c.benchmark_group("endpoint_lookup");
    for (n, maps) in all {
        for (name, lookup) in CASES {
            let mut i = 0usize;
            group.bench_function(format!("{name}/{n}"), |b| {
                b.iter(|| {
                    i = i.wrapping_add(1);
                    black_box(lookup(black_box(maps), i))
                })
            });
        }
    }
    group.finish();
}

fn nanos_per_lookup(maps: &Maps, lookup: fn(&Maps, usize) -> Option<u64>) -> f64 {
    let started = Instant::now();
    let mut found = 0u64;
    for i in 0..LOOKUPS {
        found += black_box(lookup(black_box(maps), i)).is_some() as u64;
    }
    assert_eq!(found, LOOKUPS as u64, "every key is registered");
    started.elapsed().as_nanos() as f64 / LOOKUPS as f64
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let all: Vec<(usize, Maps)> = SIZES.iter().map(|&n| (n, maps(n))).collect();
    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c, &all);
    c.final_summary();

    let mut samples = vec![vec![Vec::new(); CASES.len()]; all.len()];
    for _ in 0..ROUNDS {
        for (s, (_, maps)) in all.iter().enumerate() {
            for (k, (_, lookup)) in CASES.iter().enumerate() {
                samples[s][k].push(nanos_per_lookup(maps, *lookup));
            }
        }
    }
    println!();
    println!("median ns per lookup ({ROUNDS} rounds of {LOOKUPS} lookups)");
    println!(
        "{:<18} {:>10} {:>10} {:>12}",
        "case", "n=10", "n=100000", "100000/10"
    );
    for (k, (name, _)) in CASES.iter().enumerate() {
        let small = median(samples[0][k].clone());
        let large = median(samples[1][k].clone());
        println!(
            "{name:<18} {small:>10.2} {large:>10.2} {:>12.2}",
            large / small
        );
    }
}
