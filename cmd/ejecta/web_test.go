package main

import (
	"strings"
	"testing"
)

// TestWebListensOnLoopbackByDefault checks that `ejecta web` and `ejecta
// up`, given no --http, serve the UI to this machine only, and say so in
// their help.
func TestWebListensOnLoopbackByDefault(t *testing.T) {
	t.Setenv("EJECTA_HTTP", "")
	for _, command := range []string{"web", "up"} {
		t.Run(command, func(t *testing.T) {
			out, err := run(t, command, "--help")
			if err != nil {
				t.Fatal(err)
			}
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "--http ") {
					line = l
				}
			}
			if !strings.Contains(line, `(default "127.0.0.1:8080")`) {
				t.Errorf("--http in the help of %s: %q, want the default 127.0.0.1:8080", command, line)
			}
		})
	}
}
