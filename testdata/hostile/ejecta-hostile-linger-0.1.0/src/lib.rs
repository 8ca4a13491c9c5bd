#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::process::parent_id;

    // No process the build script left in an earlier step, under another
    // cargo than the one running the tests, is running now.
    #[test]
    fn nothing_left_from_an_earlier_step() {
        let ours = format!("lingering-from-build-script-of-{} ", parent_id());
        let mut left = vec![];
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("lingering-from-build-script-of-") && !cmdline.contains(&ours) {
                left.push(format!("{}: {}", e.file_name().to_string_lossy(), cmdline));
            }
        }
        assert!(left.is_empty(), "left running by an earlier step: {left:?}");
    }
}
