package logtail

import "io"

// StripANSI returns a writer that removes ANSI escape sequences (colours,
// cursor movement, OSC hyperlinks and titles) from what is written to it
// before passing it on to w. It keeps its state between writes, because a
// log's chunks are cut by size and a sequence may straddle two of them.
func StripANSI(w io.Writer) io.Writer { return &ansiStripper{w: w} }

type ansiState uint8

const (
	ansiText   ansiState = iota
	ansiEsc              // after ESC
	ansiCSI              // ESC [ parameters, until a final byte 0x40-0x7E
	ansiString           // ESC ] (OSC), P, X, ^, _: until BEL or ESC \
	ansiStrEsc           // ESC inside a string: '\' ends it
)

type ansiStripper struct {
	w     io.Writer
	state ansiState
	buf   []byte
}

func (s *ansiStripper) Write(p []byte) (int, error) {
	s.buf = s.buf[:0]
	for _, c := range p {
		switch s.state {
		case ansiText:
			if c == 0x1b {
				s.state = ansiEsc
			} else {
				s.buf = append(s.buf, c)
			}
		case ansiEsc:
			switch c {
			case '[':
				s.state = ansiCSI
			case ']', 'P', 'X', '^', '_':
				s.state = ansiString
			default:
				s.state = ansiText // a two-byte sequence such as ESC 7 or ESC M
			}
		case ansiCSI:
			if c >= 0x40 && c <= 0x7e {
				s.state = ansiText
			}
		case ansiString:
			switch c {
			case 0x07:
				s.state = ansiText
			case 0x1b:
				s.state = ansiStrEsc
			}
		case ansiStrEsc:
			if c == '\\' {
				s.state = ansiText
			} else {
				s.state = ansiString
			}
		}
	}
	if len(s.buf) > 0 {
		if _, err := s.w.Write(s.buf); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
