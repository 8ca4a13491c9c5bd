// Writes into the temporary directory (the sandbox's size-capped /tmp)
// until it is full.
use std::io::Write;

fn main() {
    let path = std::env::temp_dir().join("ejecta-fill");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 1 << 20];
    for i in 0..1_000_000 {
        if let Err(e) = f.write_all(&block).and_then(|_| f.flush()) {
            panic!("write block {i} to {}: {e}", path.display());
        }
    }
}
