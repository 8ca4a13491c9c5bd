// Runs the setuid-root program the crate ships (suid-euid, put there by
// the test), tries to make setuid files of its own, and fails on purpose
// so that cargo prints what it found into the build's log.
use std::{env, fs, os::unix::fs::PermissionsExt, path::Path, process::Command};

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap();
    let helper = Path::new(&dir).join("suid-euid");
    let mut out = String::new();
    match Command::new(&helper).env("EJECTA_E2E_HELPER", "euid").output() {
        Ok(o) => out.push_str(&format!("HOSTILE setuid: {} says {}", helper.display(), String::from_utf8_lossy(&o.stdout))),
        Err(e) => out.push_str(&format!("HOSTILE setuid: {}: {e}\n", helper.display())),
    }
    let own = Path::new(&env::var("OUT_DIR").unwrap()).join("own-suid");
    let copied = fs::copy(&helper, &own);
    let chmod = fs::set_permissions(&own, fs::Permissions::from_mode(0o4755));
    let chown = Command::new("chown").args(["0:0", &own.display().to_string()]).output().map(|o| o.status);
    out.push_str(&format!("HOSTILE setuid: own copy {copied:?}, chmod u+s {chmod:?}, chown root {chown:?}\n"));
    match Command::new(&own).env("EJECTA_E2E_HELPER", "euid").output() {
        Ok(o) => out.push_str(&format!("HOSTILE setuid: own copy says {}", String::from_utf8_lossy(&o.stdout))),
        Err(e) => out.push_str(&format!("HOSTILE setuid: own copy: {e}\n")),
    }
    panic!("HOSTILE setuid: report\n{out}");
}
