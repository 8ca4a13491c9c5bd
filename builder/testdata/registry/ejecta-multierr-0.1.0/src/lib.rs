//! Does not compile: E0425 and E0308 twice, on purpose.

pub fn a() -> u32 {
    "a"
}

pub fn b() -> u32 {
    not_defined_anywhere
}

pub fn c() -> bool {
    1u8
}
