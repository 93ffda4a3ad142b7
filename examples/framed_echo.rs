//! Placeholder replaced by the codec work.
fn main() {}
