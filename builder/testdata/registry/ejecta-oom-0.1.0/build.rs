// Allocates and touches 4 GiB, more than any test's memory limit.
fn main() {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    for i in 0..4096 {
        let mut b = vec![0u8; 1 << 20];
        for j in (0..b.len()).step_by(4096) {
            b[j] = 1;
        }
        keep.push(b);
        if i % 256 == 0 {
            println!("allocated {i} MiB");
        }
    }
    println!("allocated {} MiB", keep.len());
}
