// A crate-level attribute only counts at the crate root, but crater's scan
// (and ejecta's) lists every #![feature] it finds in any .rs file.
#[feature(box_patterns)]
pub fn unused() {}
