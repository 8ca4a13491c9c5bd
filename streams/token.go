package streams

import (
	"errors"
	"fmt"
	"strings"
)

// ErrEmptyToken is returned when a subject token would be empty: NATS does
// not allow empty tokens, and an empty crate name or version is always a bug.
var ErrEmptyToken = errors.New("empty subject token")

const upperHex = "0123456789ABCDEF"

func isPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// EscapeToken returns s as one subject token: every byte outside
// [A-Za-z0-9_-] is written as %XX. The result is also a safe object-key
// segment: it has no '/', no '.', so never "..".
func EscapeToken(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isPlain(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isPlain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0x0f])
	}
	return b.String()
}

// UnescapeToken reverses EscapeToken. It refuses tokens that EscapeToken
// could not have produced (a raw byte that needs escaping, a short or
// lower-case escape), so that every token has exactly one spelling.
func UnescapeToken(tok string) (string, error) {
	if tok == "" {
		return "", ErrEmptyToken
	}
	var b strings.Builder
	b.Grow(len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case isPlain(c):
			b.WriteByte(c)
		case c == '%':
			if i+2 >= len(tok) {
				return "", fmt.Errorf("token %q: truncated escape at byte %d", tok, i)
			}
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("token %q: bad escape %q at byte %d", tok, tok[i:i+3], i)
			}
			v := byte(hi<<4 | lo)
			if isPlain(v) {
				return "", fmt.Errorf("token %q: needless escape %q at byte %d", tok, tok[i:i+3], i)
			}
			b.WriteByte(v)
			i += 2
		default:
			return "", fmt.Errorf("token %q: unescaped byte %q at %d", tok, c, i)
		}
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
