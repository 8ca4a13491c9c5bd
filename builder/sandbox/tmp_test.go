package sandbox

import (
	"strings"
	"testing"
)

// /tmp is a tmpfs of the task's TmpBytes (DefaultTmpBytes when unset):
// writing past it fails with ENOSPC, the message classify maps to no-space.
func TestRunTmpSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const size = "df -k /tmp | tail -n 1 | tr -s ' ' | cut -d ' ' -f 2"
	tests := []struct {
		name     string
		tmpBytes int64
		script   string
		ok       bool
		stdout   string
		stderr   string // substring
	}{
		{"default size", 0, size, true, "524288\n", ""},
		{"own size", 4 << 20, size, true, "4096\n", ""},
		{"within the size", 4 << 20, "head -c 3000000 /dev/zero > /tmp/fill && echo ok", true, "ok\n", ""},
		{"past the size", 4 << 20, "head -c 5000000 /dev/zero > /tmp/fill && echo ok", false, "", "No space left on device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := task(t, "/bin/sh", "-c", tt.script)
			tk.TmpBytes = tt.tmpBytes
			r := e.mustRun(t, tk)
			if ok := r.exit.Code == 0; ok != tt.ok || r.stdout != tt.stdout || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want success=%v, stdout %q, stderr containing %q",
					r.exit.Code, r.stdout, r.stderr, tt.ok, tt.stdout, tt.stderr)
			}
		})
	}
}
