//! Does not compile: a type error (E0308), on purpose.

pub fn answer() -> u32 {
    let s: u32 = "forty-two";
    s
}
