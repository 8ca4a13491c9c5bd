package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lookGoBin finds a command in PATH, then where `go install` puts it.
func lookGoBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var gopath string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	} else if home, err := os.UserHomeDir(); err == nil {
		gopath = filepath.Join(home, "go")
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
