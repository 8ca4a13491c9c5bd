// Long enough for a test to interrupt the build, short enough to wait for.
fn main() {
    std::thread::sleep(std::time::Duration::from_secs(6));
}
