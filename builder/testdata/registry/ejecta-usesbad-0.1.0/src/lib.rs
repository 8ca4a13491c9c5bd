//! Compiles only if its dependency does.

pub fn twice() -> u32 {
    ejecta_typeerr::answer() * 2
}
