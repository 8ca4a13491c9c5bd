package results

import (
	"encoding/json"
	"strconv"

	"github.com/ejecta-build/ejecta/streams"
)

// A crater run's results.json holds 700k entries and the reporter writes
// it every few seconds from its state, so an entry is encoded without
// reflection, straight onto the bytes of the file. What it writes is what
// json.Marshal writes for the same value, byte for byte (encode_test.go).

// AppendJSON appends c as json.Marshal encodes it.
func (c *CrateResult) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"name":`...)
	dst = AppendString(dst, c.Name)
	dst = append(dst, `,"version":`...)
	dst = AppendString(dst, c.Version)
	dst = append(dst, `,"class":`...)
	dst = AppendString(dst, string(c.Class))
	dst = append(dst, `,"note":`...)
	dst = AppendString(dst, c.Note)
	if c.Root != "" {
		dst = append(dst, `,"root":`...)
		dst = AppendString(dst, c.Root)
	}
	if c.Confirmation != "" {
		dst = append(dst, `,"confirmation":`...)
		dst = AppendString(dst, c.Confirmation)
	}
	if c.KnownFrom != "" {
		dst = append(dst, `,"known_from":`...)
		dst = AppendString(dst, c.KnownFrom)
	}
	dst = append(dst, `,"results":`...)
	dst = appendRuns(dst, c.Results)
	if len(c.Reruns) > 0 {
		dst = append(dst, `,"reruns":[`...)
		for i, rr := range c.Reruns {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendRuns(dst, rr)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendRuns(dst []byte, rs []RunResult) []byte {
	if rs == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range rs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = rs[i].AppendJSON(dst)
	}
	return append(dst, ']')
}

// AppendJSON appends r as json.Marshal encodes it.
func (r *RunResult) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"toolchain":`...)
	dst = AppendString(dst, r.Toolchain)
	dst = append(dst, `,"status":`...)
	dst = AppendString(dst, string(r.Status))
	dst = append(dst, `,"reason":`...)
	dst = AppendString(dst, string(r.Reason))
	dst = append(dst, `,"attempt":`...)
	dst = strconv.AppendInt(dst, int64(r.Attempt), 10)
	dst = append(dst, `,"exit_code":`...)
	dst = strconv.AppendInt(dst, int64(r.ExitCode), 10)
	dst = append(dst, `,"duration_ms":`...)
	dst = strconv.AppendInt(dst, r.DurationMS, 10)
	if r.SharedTarget {
		dst = append(dst, `,"shared_target":true`...)
	}
	if r.FirstError != nil {
		dst = append(dst, `,"first_error":`...)
		dst = appendFirstError(dst, r.FirstError)
	}
	dst = append(dst, `,"log":`...)
	dst = AppendString(dst, r.Log)
	return append(dst, '}')
}

func appendFirstError(dst []byte, e *streams.FirstError) []byte {
	dst = append(dst, '{')
	if e.Code != "" {
		dst = append(dst, `"code":`...)
		dst = AppendString(dst, e.Code)
		dst = append(dst, ',')
	}
	dst = append(dst, `"message":`...)
	dst = AppendString(dst, e.Message)
	if e.File != "" {
		dst = append(dst, `,"file":`...)
		dst = AppendString(dst, e.File)
	}
	if e.Line != 0 {
		dst = append(dst, `,"line":`...)
		dst = strconv.AppendInt(dst, int64(e.Line), 10)
	}
	if e.LogLine != 0 {
		dst = append(dst, `,"log_line":`...)
		dst = strconv.AppendInt(dst, int64(e.LogLine), 10)
	}
	return append(dst, '}')
}

// AppendString appends s as a JSON string, as json.Marshal writes it:
// with <, > and & escaped for HTML. Names, versions, statuses and reasons
// are plain ASCII and are copied as they are; a string with anything else
// (a first error's message) goes through encoding/json.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
