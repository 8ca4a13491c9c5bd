// Turns every package and file of the job dir that the builder reads or
// writes into a symlink to a host path, hoping the builder (root, on the
// host) follows one later: writes the crate copy into the host directory
// named in hostile.txt, reads /dev/zero as a lockfile, and so on. Each try
// must fail or be harmless; the build itself succeeds.
use std::{env, fs, os::unix::fs::symlink, path::Path};

fn main() {
    let params = fs::read_to_string(Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("hostile.txt"))
        .unwrap_or_default();
    let target = params
        .lines()
        .find_map(|l| l.strip_prefix("target="))
        .unwrap_or("/var/tmp/ejecta-hostile-target")
        .to_string();
    let home = env::var("HOME").unwrap();
    let job = Path::new(&home).parent().unwrap().to_path_buf();
    // The wrapper package is left alone: the build, still running, needs
    // it, and a build that goes on is what gives the builder the chance
    // to follow a link later.
    let tries: &[(&str, &str)] = &[
        ("crate", &target),
        ("vendor", "/dev/zero"),
        ("crate/Cargo.toml", "/dev/zero"),
        (".cargo", &target),
        ("target/link", &target),
    ];
    for (rel, to) in tries {
        let p = job.join(rel);
        let aside = fs::rename(&p, job.join(format!("{}.aside", rel.replace('/', "_"))));
        let _ = fs::remove_dir_all(&p);
        let _ = fs::remove_file(&p);
        let linked = symlink(to, &p);
        println!("HOSTILE symlink {rel} -> {to}: moved aside {aside:?}, linked {linked:?}");
    }
    // Through the link made in the job's own target dir, if any.
    let through = fs::write(job.join("target/link/planted-by-build-script"), "x");
    println!("HOSTILE symlink: write through target/link: {through:?}");
}
