//! Builds alone; its tests need a dev-dependency that is nowhere.

/// Three.
pub fn three() -> u32 {
    3
}
