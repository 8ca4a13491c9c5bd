// Hangs silently when compiled by a nightly rustc, so that the build is
// killed by the no-output timeout on nightly only: a stand-in for a build
// that hangs under a new compiler. On stable it does nothing.
use std::{process::Command, thread, time::Duration};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("-V").output().expect("run rustc -V");
    if String::from_utf8_lossy(&out.stdout).contains("nightly") {
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
}
