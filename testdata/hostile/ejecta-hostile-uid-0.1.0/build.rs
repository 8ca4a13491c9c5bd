// Reports who it runs as, straight from the kernel, and fails on purpose
// so that cargo prints it into the build's log.
use std::fs;

fn main() {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut out = String::new();
    for l in status.lines() {
        if ["Uid:", "Gid:", "Groups:", "Cap", "NoNewPrivs:", "Seccomp:"].iter().any(|p| l.starts_with(p)) {
            out.push_str(&format!("HOSTILE uid: {l}\n"));
        }
    }
    panic!("HOSTILE uid: report\n{out}");
}
