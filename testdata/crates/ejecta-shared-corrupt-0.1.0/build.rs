// Overwrites every artifact of ejecta-shared-leaf (rlib, rmeta) that
// earlier builds left in the target dir with garbage, as a hostile crate
// sharing a builder slot's target dir could. The crate itself builds.
use std::path::Path;

fn corrupt(dir: &Path, hits: &mut u32) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let Ok(ty) = e.file_type() else { continue };
        let path = e.path();
        if ty.is_dir() {
            corrupt(&path, hits);
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("libejecta_shared_leaf-") && (name.ends_with(".rlib") || name.ends_with(".rmeta")) {
            if std::fs::write(&path, b"not an rlib: overwritten by ejecta-shared-corrupt's build script").is_ok() {
                *hits += 1;
            }
        }
    }
}

fn main() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_default();
    let mut hits = 0;
    corrupt(Path::new(&target), &mut hits);
    println!("cargo:warning=ejecta-shared-corrupt overwrote {hits} artifacts of ejecta-shared-leaf in {target}");
}
