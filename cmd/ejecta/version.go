package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo is what this binary knows of its own version, from the build
// information the go command stamps into it.
type versionInfo struct {
	// Version is the main module's version: a release tag, a pseudo-version
	// naming the commit (go 1.24 and later, built from a checkout), or
	// "(devel)".
	Version string `json:"version"`
	// Revision, Time and Modified describe the commit built from, when the
	// build recorded it (-buildvcs).
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// version is set when the binary is built for a release or an image, where
// the build information has no commit to tell (a build outside a checkout):
// go build -ldflags "-X main.version=v1.2.3" (make image does).
var version string

// buildVersion reads the version of the running binary.
func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if ok && bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if version != "" {
		v.Version = version
	}
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the version in one word, as `--version` and the builders'
// heartbeats show it: the module version, with the commit when the
// version does not already name it.
func (v versionInfo) String() string {
	s := v.Version
	rev := v.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && !strings.Contains(s, rev) {
		s += "-" + rev
		if v.Modified {
			s += "+dirty"
		}
	}
	return s
}

func newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print ejecta's version: module version, commit, Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(format); err != nil {
				return err
			}
			v := buildVersion()
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			printVersion(cmd.OutOrStdout(), v)
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func printVersion(w io.Writer, v versionInfo) {
	fmt.Fprintf(w, "ejecta %s\n", v.String())
	if v.Revision != "" {
		mod := ""
		if v.Modified {
			mod = ", with uncommitted changes"
		}
		fmt.Fprintf(w, "commit %s (%s%s)\n", v.Revision, v.Time, mod)
	}
	fmt.Fprintf(w, "%s %s\n", v.Go, v.Platform)
}
