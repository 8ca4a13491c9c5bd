// Plants links to host paths in the target dir, hoping the builder (root,
// on the host) follows one when it measures or purges the dir. The build
// itself succeeds.
use std::{env, os::unix::fs::symlink, path::Path};

fn main() {
    let target = env::var("CARGO_TARGET_DIR").unwrap();
    for (name, to) in [
        ("sentinel", "/var/tmp/ejecta-linkplant-sentinel"),
        ("debug/deps/sentinel-file", "/var/tmp/ejecta-linkplant-sentinel/keep"),
        ("root", "/"),
        ("up", ".."),
    ] {
        symlink(to, Path::new(&target).join(name)).unwrap();
    }
}
