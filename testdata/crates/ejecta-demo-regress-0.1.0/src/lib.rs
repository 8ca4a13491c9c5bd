//! Builds on stable, fails on nightly (see build.rs).

#[cfg(ejecta_nightly)]
compile_error!("ejecta-demo-regress: this crate does not build with a nightly compiler");

/// Adds two numbers.
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::add(2, 2), 4);
    }
}
