//! Builds only on a nightly toolchain: `#![feature]` is refused on stable.
#![feature(never_type)]

/// Never returns: the `!` type needs the `never_type` feature.
pub fn diverge() -> ! {
    panic!("diverged")
}

/// Something to call.
pub fn answer() -> u32 {
    42
}

#[cfg(test)]
mod tests {
    #[test]
    fn answer_is_42() {
        assert_eq!(super::answer(), 42);
    }
}
