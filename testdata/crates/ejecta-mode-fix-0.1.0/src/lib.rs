//! Compiles, with a warning whose suggestion cargo fix applies.

pub fn sum(xs: &[u32]) -> u32 {
    let mut total = 0;
    let mut unused = 1;
    for x in xs {
        total += x;
    }
    let _ = unused;
    total
}
