// Tries to change the host through the kernel's interfaces: a cgroup of
// its own, a release agent, kernel settings, the sysrq trigger, a mount.
// Each try must fail; the build itself succeeds.
use std::{fs, process::Command};

fn main() {
    let mut tries = vec![];
    if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            tries.push(format!("mkdir {}", e.path().join("ejecta-hostile-cgroup-made").display()));
            let r = fs::create_dir(e.path().join("ejecta-hostile-cgroup-made"));
            tries.push(format!("  -> {r:?}"));
            let r = fs::write(e.path().join("release_agent"), "/ejecta-hostile-release-agent");
            tries.push(format!("  release_agent -> {r:?}"));
        }
    }
    for (path, value) in [
        ("/sys/fs/cgroup/ejecta-hostile-cgroup-made", ""),
        ("/proc/sys/kernel/hostname", "ejecta-hostile"),
        ("/proc/sysrq-trigger", "s"),
        ("/proc/sys/vm/drop_caches", "3"),
        ("/sys/kernel/mm/transparent_hugepage/enabled", "never"),
    ] {
        let r = if value.is_empty() { fs::create_dir(path) } else { fs::write(path, value) };
        tries.push(format!("write {path}: {r:?}"));
    }
    let r = Command::new("mount").args(["-t", "tmpfs", "tmpfs", "/mnt"]).output();
    tries.push(format!("mount: {:?}", r.map(|o| o.status)));
    for t in tries {
        println!("HOSTILE cgroup: {t}");
    }
}
