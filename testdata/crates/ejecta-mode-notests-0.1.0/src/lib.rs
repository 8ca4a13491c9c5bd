//! A library without a single test (nor doc-test).

pub fn one() -> u32 {
    1
}
