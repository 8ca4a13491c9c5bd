package logtail

import (
	"io"
	"unicode/utf8"
)

// Sanitize returns a writer that passes on to w only what a build log may
// show on a terminal: text, newlines, tabs and carriage returns and, when
// colours is true, SGR sequences (ESC [ digits ; : m), which set colours and
// nothing else. Every other control is removed: OSC (window titles, OSC 52
// clipboard writes, OSC 8 hyperlinks), DCS, SOS, PM and APC strings, CSI
// sequences that move the cursor, clear the screen or make the terminal
// answer on its input (ESC [ 6 n), two-byte escapes, C0 controls such as BEL
// and backspace, and C1 controls raw or UTF-8 encoded. A build's output is
// written by the crate's own code and can hold any of these.
//
// The writer keeps its state between writes, because a log's chunks are cut
// by size and a sequence may straddle two of them: it never passes on part
// of a sequence. A sequence still open when the log ends (an OSC never
// terminated, a character cut short) is dropped, with all that follows its
// start.
func Sanitize(w io.Writer, colours bool) io.Writer {
	return &sanitizer{w: w, colours: colours}
}

type escState uint8

const (
	stText      escState = iota
	stEsc                // after ESC
	stEscInter           // ESC and intermediates 0x20-0x2F, until a final byte
	stCSI                // ESC [ parameters, until a final byte 0x40-0x7E
	stString             // ESC ] (OSC), P (DCS), X, ^, _: until BEL or ESC \
	stStringEsc          // ESC inside a string: '\' ends it, anything else starts a new sequence
)

// maxSGR bounds a colour sequence kept whole: the longest in use, true-colour
// foreground and background with attributes, is about 40 bytes. A longer one
// is dropped.
const maxSGR = 64

const (
	esc = 0x1b
	can = 0x18 // cancels a sequence
	sub = 0x1a // cancels a sequence
	bel = 0x07 // ends an OSC
)

type sanitizer struct {
	w       io.Writer
	colours bool
	state   escState
	seq     []byte // the CSI sequence so far, while it may be SGR
	sgr     bool   // seq is still a candidate SGR sequence
	u8      []byte // the start of a UTF-8 sequence
	out     []byte
}

func (s *sanitizer) Write(p []byte) (int, error) {
	s.out = s.out[:0]
	for _, c := range p {
		s.byte(c)
	}
	if len(s.out) > 0 {
		if _, err := s.w.Write(s.out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (s *sanitizer) byte(c byte) {
	switch s.state {
	case stText:
		s.text(c)
	case stEsc:
		s.escape(c)
	case stEscInter:
		switch {
		case c >= 0x20 && c <= 0x2f:
		case c >= 0x30 && c <= 0x7e:
			s.state = stText
		case c >= 0x80:
			s.state = stText
			s.text(c)
		default:
			s.control(c)
		}
	case stCSI:
		s.csi(c)
	case stString:
		switch c {
		case bel, can, sub:
			s.state = stText
		case esc:
			s.state = stStringEsc
		}
	case stStringEsc:
		if c == '\\' {
			s.state = stText
			return
		}
		s.state = stEsc
		s.escape(c)
	}
}

// text handles a byte outside any sequence.
func (s *sanitizer) text(c byte) {
	if len(s.u8) > 0 || c >= 0x80 {
		s.utf8(c)
		return
	}
	switch {
	case c == esc:
		s.state = stEsc
	case c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f):
		s.out = append(s.out, c)
	}
	// Any other C0 control, and DEL, is dropped.
}

// escape handles the byte after ESC.
func (s *sanitizer) escape(c byte) {
	switch {
	case c == '[':
		s.state = stCSI
		s.seq = append(s.seq[:0], esc, '[')
		s.sgr = true
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		s.state = stString
	case c >= 0x20 && c <= 0x2f:
		s.state = stEscInter
	case c >= 0x30 && c <= 0x7e:
		s.state = stText // a two-byte sequence such as ESC 7, ESC M or ESC c
	case c >= 0x80:
		s.state = stText
		s.text(c)
	default:
		s.control(c)
	}
}

// csi handles a byte of a CSI sequence; only an SGR one is passed on.
func (s *sanitizer) csi(c byte) {
	switch {
	case c >= 0x40 && c <= 0x7e:
		s.state = stText
		if c == 'm' && s.sgr && s.colours {
			s.out = append(append(s.out, s.seq...), c)
		}
	case c >= 0x20 && c <= 0x3f:
		// Parameters and intermediates. SGR has only digits, ';' and ':';
		// a private marker (ESC [ > 4 m sets a keyboard mode) is not SGR.
		if s.sgr && (c >= '0' && c <= ';') && len(s.seq) < maxSGR {
			s.seq = append(s.seq, c)
		} else {
			s.sgr = false
		}
	case c >= 0x80:
		s.sgr = false
	default:
		s.control(c)
	}
}

// control handles a C0 control inside a sequence as a terminal does: CAN
// and SUB cancel it, ESC starts another, the others act (newline, tab and
// carriage return are passed on) without ending it.
func (s *sanitizer) control(c byte) {
	switch c {
	case can, sub:
		s.state = stText
	case esc:
		s.state = stEsc
	case '\n', '\r', '\t':
		s.out = append(s.out, c)
	}
}

// utf8 collects a multi-byte character and passes it on unless it is a C1
// control (U+0080 to U+009F), which some terminals obey. Bytes that are not
// valid UTF-8 are passed on as they are, except 0x80-0x9F: a raw C1 control,
// or the last byte of an overlong encoding of a control.
func (s *sanitizer) utf8(c byte) {
	if len(s.u8) > 0 && (c < 0x80 || c > 0xbf) {
		s.invalid(s.u8) // cut short by a byte that cannot continue it
		s.u8 = s.u8[:0]
		s.text(c)
		return
	}
	s.u8 = append(s.u8, c)
	for len(s.u8) > 0 && utf8.FullRune(s.u8) {
		r, n := utf8.DecodeRune(s.u8)
		switch {
		case r == utf8.RuneError && n <= 1:
			s.invalid(s.u8[:1])
			n = 1
		case r >= 0x80 && r <= 0x9f:
		default:
			s.out = append(s.out, s.u8[:n]...)
		}
		s.u8 = s.u8[:copy(s.u8, s.u8[n:])]
	}
}

func (s *sanitizer) invalid(b []byte) {
	for _, c := range b {
		if c >= 0xa0 {
			s.out = append(s.out, c)
		}
	}
}
