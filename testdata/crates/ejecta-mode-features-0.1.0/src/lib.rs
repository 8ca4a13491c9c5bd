//! Needs nightly: it enables unstable features.
#![feature(never_type, decl_macro)]
#![feature(
    test,
)]

pub mod inner;

/// Never returns.
pub fn forever() -> ! {
    loop {}
}
