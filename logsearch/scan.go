package logsearch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
)

// MaxLineBytes is how much of a line is matched and shown; the rest of a
// longer line is skipped.
const MaxLineBytes = 64 << 10

// blockBytes is how much of a log the block scan reads at once.
const blockBytes = 256 << 10

// line is one line of a log as a scan reports it: its number from 1, its
// text without escape sequences or the newline, and whether it matched
// (else it is context).
type line struct {
	n     int
	text  []byte
	match bool
}

// scanner finds the lines of one log that match re, with context lines
// around them. It reuses its buffers from log to log.
type scanner struct {
	re      *regexp.Regexp
	context int

	block []byte
	clean []byte
	rd    *bufio.Reader
	// before holds the last context lines, oldest first, for a match to
	// come.
	before []line
}

func newScanner(re *regexp.Regexp, context int) *scanner {
	return &scanner{re: re, context: context}
}

// scan reads r to its end and calls emit for each matching line and, with
// context, the lines around it; a gap between groups of lines shows as a
// jump in the line numbers. The line emit gets is valid only during the
// call. It returns how many bytes it read.
// It stops early, with ctx's error, once ctx is done.
func (s *scanner) scan(ctx context.Context, r io.Reader, emit func(line) error) (int64, error) {
	if s.context == 0 {
		return s.scanBlocks(ctx, r, emit)
	}
	return s.scanLines(ctx, r, emit)
}

// scanBlocks is scan without context: the pattern runs over whole blocks
// of lines, and only a block that matches is looked at line by line.
func (s *scanner) scanBlocks(ctx context.Context, r io.Reader, emit func(line) error) (int64, error) {
	if s.block == nil {
		s.block = make([]byte, blockBytes)
	}
	var total int64
	lineNo := 1 // number of the first line in the block
	kept := 0   // bytes carried over from the last read: a line's start
	skipping := false
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.ReadFull(r, s.block[kept:])
		total += int64(n)
		data := s.block[:kept+n]
		end := len(data)
		last := err != nil
		if !last {
			// Whole lines only; the rest waits for the next read.
			i := bytes.LastIndexByte(data, '\n')
			switch {
			case i >= 0:
				end = i + 1
			case skipping:
				kept = 0
				continue
			default:
				// A line longer than the block: match its head and
				// skip the rest.
				end = len(data)
			}
		}
		whole := data[:end]
		if skipping {
			// The tail of an overlong line, already matched on its head.
			i := bytes.IndexByte(whole, '\n')
			if i < 0 {
				whole = whole[:0]
			} else {
				whole = whole[i+1:]
				lineNo++
			}
			skipping = i < 0
		}
		if err := s.matchBlock(whole, lineNo, emit); err != nil {
			return total, err
		}
		lineNo += bytes.Count(whole, []byte{'\n'})
		if !last && end == len(data) && data[end-1] != '\n' {
			// The head of an overlong line was matched; the line ends
			// (and the next begins) at a later newline.
			skipping = true
		}
		kept = copy(s.block, data[end:])
		if last {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return total, nil
			}
			return total, err
		}
	}
}

// matchBlock finds the matching lines of block, whose first line is number
// first.
func (s *scanner) matchBlock(block []byte, first int, emit func(line) error) error {
	s.clean = stripEscapes(s.clean[:0], block)
	text := s.clean
	lineNo, from := first, 0
	for from < len(text) {
		loc := s.re.FindIndex(text[from:])
		if loc == nil {
			return nil
		}
		start := from + loc[0]
		ls := bytes.LastIndexByte(text[:start], '\n') + 1
		le := bytes.IndexByte(text[start:], '\n')
		if le < 0 {
			le = len(text)
		} else {
			le += start
		}
		lineNo += bytes.Count(text[from:ls], []byte{'\n'})
		l := text[ls:le]
		if len(l) > MaxLineBytes {
			l = l[:MaxLineBytes]
		}
		// Confirm on the line alone: the block match may have run over
		// a newline, or depend on what surrounds the line.
		if s.re.Match(l) {
			if err := emit(line{n: lineNo, text: l, match: true}); err != nil {
				return err
			}
		}
		if le == len(text) {
			return nil
		}
		from = le + 1
		lineNo++
	}
	return nil
}

// scanLines is scan with context: line by line, keeping the last context
// lines for a match to come.
func (s *scanner) scanLines(ctx context.Context, r io.Reader, emit func(line) error) (int64, error) {
	if s.rd == nil {
		s.rd = bufio.NewReaderSize(r, MaxLineBytes)
	} else {
		s.rd.Reset(r)
	}
	s.before = s.before[:0]
	var total int64
	after := 0 // context lines still to show after a match
	for n := 1; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return total, ctx.Err()
		}
		raw, size, err := readLine(s.rd)
		total += size
		if size == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
		text := stripEscapes(nil, raw)
		switch {
		case s.re.Match(text):
			for _, b := range s.before {
				if err := emit(b); err != nil {
					return total, err
				}
			}
			s.before = s.before[:0]
			if err := emit(line{n: n, text: text, match: true}); err != nil {
				return total, err
			}
			after = s.context
		case after > 0:
			after--
			if err := emit(line{n: n, text: text}); err != nil {
				return total, err
			}
		case s.context > 0:
			if len(s.before) == s.context {
				s.before = append(s.before[:0], s.before[1:]...)
			}
			s.before = append(s.before, line{n: n, text: text})
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
	}
}

// readLine reads one line without its newline, at most MaxLineBytes of it
// (the rest is read and dropped), and how many bytes it took from r.
func readLine(r *bufio.Reader) ([]byte, int64, error) {
	l, err := r.ReadSlice('\n')
	size := int64(len(l))
	if errors.Is(err, bufio.ErrBufferFull) {
		l = bytes.Clone(l)
		for errors.Is(err, bufio.ErrBufferFull) {
			var more []byte
			more, err = r.ReadSlice('\n')
			size += int64(len(more))
		}
	}
	l = bytes.TrimSuffix(l, []byte{'\n'})
	if len(l) > MaxLineBytes {
		l = l[:MaxLineBytes]
	}
	return l, size, err
}

// stripEscapes appends to dst the text of src without terminal escape
// sequences: CSI such as colours, OSC such as titles and links, and other
// ESC sequences. What is matched is the text a person reads. Plain runs
// are found with IndexByte and copied whole: this runs over every byte of
// a log with colours.
func stripEscapes(dst, src []byte) []byte {
	for len(src) > 0 {
		i := bytes.IndexByte(src, 0x1b)
		if i < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		src = src[i+1:]
		if len(src) == 0 {
			return dst
		}
		switch src[0] {
		case '[':
			// CSI: parameters and intermediates, then a final byte.
			j := 1
			for j < len(src) && (src[j] < 0x40 || src[j] > 0x7e) && src[j] != '\n' {
				j++
			}
			if j < len(src) && src[j] != '\n' {
				j++
			}
			src = src[j:]
		case ']':
			// OSC: up to BEL or ESC \.
			j := 1
			for j < len(src) && src[j] != 0x07 && src[j] != '\n' && !(src[j] == 0x1b && j+1 < len(src) && src[j+1] == '\\') {
				j++
			}
			switch {
			case j == len(src), src[j] == '\n':
			case src[j] == 0x07:
				j++
			default:
				j += 2
			}
			src = src[j:]
		case '\n':
		default:
			src = src[1:] // a two-byte escape
		}
	}
	return dst
}

// printable appends to dst the text of a line to show without control
// bytes other than tab: a log is hostile, and what reaches a terminal
// must not drive it.
func printable(dst, src []byte) []byte {
	for _, c := range src {
		if c >= 0x20 && c != 0x7f || c == '\t' {
			dst = append(dst, c)
		}
	}
	return dst
}
