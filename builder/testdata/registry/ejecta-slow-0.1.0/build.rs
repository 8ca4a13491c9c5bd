// Takes ten minutes: longer than any test's timeout.
fn main() {
    std::thread::sleep(std::time::Duration::from_secs(600));
}
