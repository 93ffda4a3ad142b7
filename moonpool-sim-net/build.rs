//! Declares `cfg(tokio_unstable)`: when the build sets it, each iteration seeds
//! tokio's own RNG (the branch order of an unbiased `select!`) from its seed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tokio_unstable)");
}
