//! Nothing to see: the build script is what the fault tests need.

/// Returns its argument.
pub fn identity(x: u32) -> u32 {
    x
}
