package builder

import (
	"path/filepath"
)

// sandboxEnv is the whole environment of a build: nothing of the builder's
// own environment leaks in, so a build depends only on the job and the
// builder's configuration.
func sandboxEnv(cfg Config, ws workspace, toolchain, capLints string) []string {
	env := []string{
		// The cargo proxy's dir first so rustc and friends resolve through
		// the same rustup as cargo.
		"PATH=" + filepath.Dir(cfg.CargoPath) + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + ws.home(),
		"RUSTUP_HOME=" + cfg.RustupHome, // read-only in the sandbox
		"CARGO_HOME=" + ws.cargoHome(),
		"CARGO_TARGET_DIR=" + ws.target(),
		// Colours without a TTY: stdout and stderr stay apart in the log.
		"CARGO_TERM_COLOR=always",
		// Never try to install a missing toolchain into a read-only home;
		// fail with a clear message instead.
		"RUSTUP_AUTO_INSTALL=0",
		"RUSTUP_TOOLCHAIN=" + toolchain,
	}
	if capLints != "" {
		// rustdoc reads its own flags (crater passes both).
		env = append(env, "RUSTFLAGS=--cap-lints="+capLints, "RUSTDOCFLAGS=--cap-lints="+capLints)
	}
	return env
}
