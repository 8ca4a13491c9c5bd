//! Prints 2 GiB in numbered 1 KiB lines straight to stdout (no test
//! harness, so cargo test does not capture it), then a last line.
use std::io::Write;

fn main() {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let filler = "x".repeat(1004); // 1 KiB lines with the number and newline
    let lines: u64 = 2 << 20;
    for i in 0..lines {
        writeln!(out, "line {i:012}: {filler}").unwrap();
    }
    writeln!(out, "spew: printed {lines} lines of 1 KiB; this is the last").unwrap();
}
