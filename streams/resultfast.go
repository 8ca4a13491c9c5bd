package streams

import (
	"strconv"
	"time"
)

// Decoding results is most of what the reporter spends on one, and
// encoding/json takes about 5 µs for a result's dozen fields. decodeResult
// reads the shape builders send, fast; anything else it declines, and the
// caller decodes with encoding/json, so that the rules (unknown fields,
// nulls, escapes, case-insensitive names, the errors' words) stay
// encoding/json's. What it accepts it must decode exactly as
// encoding/json would: FuzzDecodeResult holds it to that.
//
// It accepts one object whose names are Result's JSON names spelled
// exactly, each once, and whose values are strings without escapes or
// bytes outside printable ASCII, integers without fraction or exponent,
// and true or false; white space anywhere JSON allows it. It declines
// first_error (an object) and null.

// resultField numbers Result's JSON names, for the once-each check.
type resultField uint

const (
	fieldV resultField = iota
	fieldExperiment
	fieldCrate
	fieldVersion
	fieldToolchain
	fieldAttempt
	fieldStatus
	fieldReason
	fieldExitCode
	fieldDurationMS
	fieldBuilder
	fieldLogKey
	fieldFinishedAt
	fieldSharedTarget
	fieldMAC
)

// resultFields maps the names decodeResult knows to their fields.
var resultFields = map[string]resultField{
	"v": fieldV, "experiment": fieldExperiment, "crate": fieldCrate, "version": fieldVersion,
	"toolchain": fieldToolchain, "attempt": fieldAttempt, "status": fieldStatus, "reason": fieldReason,
	"exit_code": fieldExitCode, "duration_ms": fieldDurationMS, "builder": fieldBuilder,
	"log_key": fieldLogKey, "finished_at": fieldFinishedAt, "shared_target": fieldSharedTarget, "mac": fieldMAC,
}

// decodeResult decodes data into r, which must be zero, and reports
// whether it could; when it could not, r holds whatever it had read and
// the caller starts again from a zero Result.
func decodeResult(data []byte, r *Result) bool {
	p := resultParser{data: data}
	if !p.byte('{') {
		return false
	}
	var seen uint
	if p.peek() == '}' {
		p.i++
		return p.end()
	}
	for {
		name, ok := p.plainString()
		if !ok || !p.byte(':') {
			return false
		}
		f, ok := resultFields[string(name)]
		if !ok || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		if !p.value(f, r) {
			return false
		}
		switch p.next() {
		case ',':
		case '}':
			return p.end()
		default:
			return false
		}
	}
}

// resultParser reads data from i on.
type resultParser struct {
	data []byte
	i    int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// peek skips white space and returns the next byte, 0 at the end.
func (p *resultParser) peek() byte {
	for p.i < len(p.data) && isSpace(p.data[p.i]) {
		p.i++
	}
	if p.i == len(p.data) {
		return 0
	}
	return p.data[p.i]
}

// next skips white space and takes the next byte, 0 at the end.
func (p *resultParser) next() byte {
	c := p.peek()
	if c != 0 {
		p.i++
	}
	return c
}

// byte takes c, after white space.
func (p *resultParser) byte(c byte) bool { return p.next() == c }

// end reports whether only white space is left.
func (p *resultParser) end() bool { return p.peek() == 0 && p.i == len(p.data) }

// plainString takes a string of printable ASCII without escapes and
// returns what is between its quotes.
func (p *resultParser) plainString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.data); p.i++ {
		switch c := p.data[p.i]; {
		case c == '"':
			s := p.data[start:p.i]
			p.i++
			return s, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// integer takes a JSON integer: an optional minus, then 0 or digits not
// starting with 0, with no fraction or exponent; and it must fit bits.
func (p *resultParser) integer(bits int) (int64, bool) {
	if p.peek() == 0 {
		return 0, false
	}
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	switch n := p.i - digits; {
	case n == 0, n > 1 && p.data[digits] == '0':
		return 0, false
	}
	if p.i < len(p.data) && (p.data[p.i] == '.' || p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		return 0, false
	}
	v, err := strconv.ParseInt(string(p.data[start:p.i]), 10, bits)
	return v, err == nil
}

// literal takes the bare word w (true, false).
func (p *resultParser) literal(w string) bool {
	if p.peek() == 0 || len(p.data)-p.i < len(w) || string(p.data[p.i:p.i+len(w)]) != w {
		return false
	}
	p.i += len(w)
	return true
}

// value takes the value of field f into r.
func (p *resultParser) value(f resultField, r *Result) bool {
	switch f {
	case fieldV, fieldAttempt, fieldExitCode:
		v, ok := p.integer(strconv.IntSize)
		if !ok {
			return false
		}
		switch f {
		case fieldV:
			r.V = int(v)
		case fieldAttempt:
			r.Attempt = int(v)
		default:
			r.ExitCode = int(v)
		}
		return true
	case fieldDurationMS:
		v, ok := p.integer(64)
		r.DurationMS = v
		return ok
	case fieldSharedTarget:
		switch p.peek() {
		case 't':
			r.SharedTarget = true
			return p.literal("true")
		case 'f':
			r.SharedTarget = false
			return p.literal("false")
		}
		return false
	case fieldFinishedAt:
		p.peek()
		start := p.i
		if _, ok := p.plainString(); !ok {
			return false
		}
		// time.Time's own decoding, on the quoted string, as encoding/json
		// calls it.
		var t time.Time
		if t.UnmarshalJSON(p.data[start:p.i]) != nil {
			return false
		}
		r.FinishedAt = t
		return true
	}
	s, ok := p.plainString()
	if !ok {
		return false
	}
	switch f {
	case fieldExperiment:
		r.Experiment = string(s)
	case fieldCrate:
		r.Crate = string(s)
	case fieldVersion:
		r.Version = string(s)
	case fieldToolchain:
		r.Toolchain = string(s)
	case fieldStatus:
		r.Status = Status(s)
	case fieldReason:
		r.Reason = Reason(s)
	case fieldBuilder:
		r.Builder = string(s)
	case fieldLogKey:
		r.LogKey = string(s)
	case fieldMAC:
		r.MAC = string(s)
	default:
		return false
	}
	return true
}
