// Starts sleeping children until the pids limit refuses one, then fails with
// the error the refusal gave. The children do not hold cargo's pipes, so the
// failure shows at once rather than when they die.
use std::process::{Command, Stdio};

fn main() {
    let mut children = Vec::new();
    for i in 0..100_000 {
        let spawned = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(c) => children.push(c),
            Err(e) => panic!("process {i} not started: {e}"),
        }
    }
    println!("started {} processes", children.len());
}
