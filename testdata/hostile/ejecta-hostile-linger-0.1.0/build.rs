// Leaves processes running when the build script, and the step that ran
// it, are done: one in the background, one detached in a session of its
// own, each named after the cargo that ran the script. Were they still
// there in a later step, they could change what it sees; the tests look
// for them (src/lib.rs). The tests' own step runs this script again (the
// crate as root package is another package to cargo), so only processes
// named after another cargo are left from an earlier step.
use std::os::unix::process::parent_id;
use std::process::{Command, Stdio};

fn main() {
    let name = format!("lingering-from-build-script-of-{}", parent_id());
    for script in [
        "while :; do sleep 1; done",
        "setsid sh -c 'while :; do sleep 1; done' \"$0\" &",
    ] {
        let r = Command::new("/bin/sh")
            .args(["-c", script, &name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        println!("HOSTILE linger: {name}: spawned {:?}", r.map(|c| c.id()));
    }
}
