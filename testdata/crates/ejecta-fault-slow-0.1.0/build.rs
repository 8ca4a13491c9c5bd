// Takes six seconds, printing a line each second, so that a test can kill a
// component while this crate is being built.
use std::{thread, time::Duration};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for i in 1..=6 {
        eprintln!("ejecta-fault-slow: second {i} of 6");
        thread::sleep(Duration::from_secs(1));
    }
}
