// Sets cfg `ejecta_nightly` when compiled by a nightly rustc, so the library
// fails to build there: a stand-in for a real compiler regression.
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ejecta_nightly)");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("-V").output().expect("run rustc -V");
    if String::from_utf8_lossy(&out.stdout).contains("nightly") {
        println!("cargo::rustc-cfg=ejecta_nightly");
    }
}
