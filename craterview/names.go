package craterview

import "strings"

// The view's files, relative to its root (Dir under the experiment's
// prefix; the destination itself for an export):
//
//	results.json
//	config.json
//	retry-regressed-list.txt
//	logs-archives/all.tar.zst, logs-archives/<comparison>.tar.zst
//	<toolchain>/reg/<name>-<version>/log.txt
const (
	Dir           = "crater/"
	ResultsFile   = "results.json"
	ConfigFile    = "config.json"
	RetryListFile = "retry-regressed-list.txt"
)

// AllArchive is the name of the archive holding every crate's logs.
const AllArchive = "all"

// ArchiveKey is the key, relative to the view's root, of the archive name
// (AllArchive or a comparison).
func ArchiveKey(name string) string { return "logs-archives/" + name + ".tar.zst" }

// ArchiveEntry is a log's path inside crater's archives:
// <comparison>/<crate id>/<toolchain>.txt, the crate id reg/<name>/<version>
// as crater's Crate::id writes it, unencoded, and the toolchain as its path
// component (src/report/archives.rs).
func ArchiveEntry(comparison, tc, name, version string) string {
	return comparison + "/reg/" + name + "/" + version + "/" + PathComponent(tc) + ".txt"
}

// LogKey is the key, relative to the view's root, of the log of crate
// name@version on toolchain tc: <toolchain>/reg/<name>-<version>/log.txt,
// each part its path component, where crater's write_logs puts it. It is
// LogPath percent-decoded, plus /log.txt.
func LogKey(tc, name, version string) string {
	return PathComponent(tc) + "/reg/" + PathComponent(name+"-"+version) + "/log.txt"
}

// LogPath is where results.json says the log is: LogKey's directory, each
// part percent-encoded as crater's report encodes URLs
// (REPORT_ENCODE_SET), so that a reader who fetches <root>/<log>/log.txt
// over HTTP, or percent-decodes <log> to find the file, reaches LogKey.
//
// For every rustup toolchain and crate name this is crater's own
// encoding. A toolchain directory (/opt/rust) is ejecta's: crater would
// leave its slashes as they are, which makes a log path of more parts than
// <toolchain>/reg/<crate>; here the toolchain is its path component
// (%2Fopt%2Frust), then encoded again ('%' included), so that the path keeps
// its three parts and still decodes to the key.
func LogPath(tc, name, version string) string {
	return reportEncode(PathComponent(tc)) + "/reg/" + reportEncode(PathComponent(name+"-"+version))
}

// PathComponent is s as crater makes it one part of a file path
// (Toolchain::to_path_component, FILENAME_ENCODE_SET): control bytes, every
// byte outside ASCII and <>:"/\|?* percent-encoded, everything else as it
// is.
func PathComponent(s string) string { return encode(s, `<>:"/\|?*`) }

// reportEncode is crater's REPORT_ENCODE_SET (control bytes, every byte
// outside ASCII, and ` "#<>`?{}+`), plus '%': what it encodes is a path
// component, which may hold escapes of its own.
func reportEncode(s string) string { return encode(s, " \"#<>`?{}+%") }

// encode percent-encodes s as rust-url's utf8_percent_encode does with
// crater's sets: control bytes, DEL and every byte outside ASCII always,
// and the bytes of set.
func encode(s, set string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(set, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
