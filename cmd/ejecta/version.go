package main

import "runtime/debug"

// version is set when the binary is built for a release or an image:
// go build -ldflags "-X main.version=v1.2.3". Otherwise it is read from
// the build information Go records (a module version, or the commit of a
// build from a checkout).
var version string

// buildVersion is what `ejecta --version` prints and builders report in
// their heartbeats.
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		return "devel-" + rev[:min(12, len(rev))] + modified
	}
	if v == "" {
		return "(devel)"
	}
	return v
}
