//! Compiles cleanly; rustdoc cannot resolve the link below, and the crate
//! denies broken links.
#![deny(rustdoc::broken_intra_doc_links)]

/// Twice `x`; see [`NoSuchItem`].
pub fn double(x: u32) -> u32 {
    x * 2
}
