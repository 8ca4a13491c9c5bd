//! Calls the system's zlib, linked by the build script.
use std::ffi::{c_char, CStr};

extern "C" {
    fn zlibVersion() -> *const c_char;
}

/// The version of the zlib the crate was linked with.
pub fn zlib_version() -> String {
    unsafe { CStr::from_ptr(zlibVersion()) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_zlib() {
        let v = super::zlib_version();
        println!("zlib {v}");
        assert!(v.starts_with("1."), "zlib version {v}");
    }

    // The root the test runs on is the build environment image's, which
    // says what it is; a host's root does not.
    #[test]
    fn runs_in_the_build_environment() {
        let about = std::fs::read_to_string("/etc/ejecta-build-env").expect("/etc/ejecta-build-env");
        println!("{}", about.lines().next().unwrap_or(""));
    }
}
