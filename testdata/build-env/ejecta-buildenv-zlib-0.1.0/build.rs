// Finds zlib as -sys crates do: asks pkg-config, then tells cargo what to
// link. Without pkg-config or zlib's .pc file the build fails, saying so.
use std::process::Command;

fn main() {
    let out = Command::new("pkg-config")
        .args(["--libs", "zlib"])
        .output()
        .unwrap_or_else(|e| panic!("pkg-config: {e}"));
    if !out.status.success() {
        panic!("pkg-config --libs zlib: {}", String::from_utf8_lossy(&out.stderr));
    }
    for flag in String::from_utf8(out.stdout).unwrap().split_whitespace() {
        if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        } else if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
