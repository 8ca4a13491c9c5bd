//! Builds on stable, hangs on nightly (see build.rs).

/// Adds two numbers.
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}
