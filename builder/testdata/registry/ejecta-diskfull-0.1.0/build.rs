// Writes into OUT_DIR until the disk is full (tests give it a tiny one).
use std::io::Write;

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let mut f = std::fs::File::create(format!("{out}/fill")).unwrap();
    let block = vec![0u8; 1 << 20];
    for i in 0..1_000_000 {
        if let Err(e) = f.write_all(&block).and_then(|_| f.flush()) {
            panic!("write block {i}: {e}");
        }
    }
}
