package streams

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FirstError is the first error a failed build printed, as the compiler's
// structured output gave it (or cargo's own error line when the compiler
// never ran): what a person triaging a regression reads first. A result
// carries it when the builder saw one.
type FirstError struct {
	// Code is rustc's error code (E0308) or the denied lint
	// (clippy::approx_constant); empty when the error has none.
	Code string `json:"code,omitempty"`
	// Message is the error's one-line message, without colours.
	Message string `json:"message"`
	// File and Line locate the error's primary span, File as
	// crate-version/path when it is in a package (ejecta-typeerr-0.1.0/src/lib.rs);
	// both empty when the error has no span.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// LogLine is the line of the attempt's log where the error is printed,
	// from 1; 0 when it is not in the log as published (past the log's cap).
	LogLine int `json:"log_line,omitempty"`
}

// Bounds on a FirstError's fields.
const (
	MaxFirstErrorCode    = 128
	MaxFirstErrorMessage = 512
	MaxFirstErrorFile    = 256
	// maxLine bounds a line number: no log or source file has more lines.
	maxLine = 1 << 40
)

// NewFirstError makes a FirstError from what a build printed, cutting
// each field to its bound and leaving out what Validate would refuse: a
// code not made of a code's characters, control characters in the text.
// It returns nil when no message is left.
func NewFirstError(code, message, file string, line, logLine int) *FirstError {
	e := &FirstError{Message: cleanText(message, MaxFirstErrorMessage), File: cleanText(file, MaxFirstErrorFile)}
	if validCode(code) {
		e.Code = code
	}
	if e.File != "" && line > 0 && line < maxLine {
		e.Line = line
	}
	if logLine > 0 && logLine < maxLine {
		e.LogLine = logLine
	}
	if e.Message == "" {
		return nil
	}
	return e
}

// Validate checks every field of e against its bound.
func (e *FirstError) Validate() error {
	switch {
	case e.Code != "" && !validCode(e.Code):
		return fmt.Errorf("first_error: code %s: want an error code or lint name of at most %d bytes", Bounded(e.Code), MaxFirstErrorCode)
	case e.Message == "" || cleanText(e.Message, MaxFirstErrorMessage) != e.Message:
		return fmt.Errorf("first_error: message %s: want one line of printable text of at most %d bytes", Bounded(e.Message), MaxFirstErrorMessage)
	case cleanText(e.File, MaxFirstErrorFile) != e.File:
		return fmt.Errorf("first_error: file %s: want printable text of at most %d bytes", Bounded(e.File), MaxFirstErrorFile)
	case e.Line < 0 || e.Line >= maxLine || (e.Line > 0 && e.File == ""):
		return fmt.Errorf("first_error: line %d: want a line of file, or none", e.Line)
	case e.LogLine < 0 || e.LogLine >= maxLine:
		return fmt.Errorf("first_error: log_line %d: out of range", e.LogLine)
	}
	return nil
}

// Location is "file:line", "file" or "".
func (e *FirstError) Location() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return e.File
}

// validCode reports whether s looks like an error code or a lint name:
// E0308, unused_variables, clippy::approx_constant.
func validCode(s string) bool {
	if s == "" || len(s) > MaxFirstErrorCode {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' || r == '-') {
			return false
		}
	}
	return true
}

// cleanText is s as one line of printable text: invalid UTF-8 and
// control characters (ANSI escapes among them) dropped, runs of white
// space made one space, cut at a character boundary to at most max bytes.
func cleanText(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError, r == 0x1b:
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case !unicode.IsPrint(r):
			continue
		}
		n := utf8.RuneLen(r)
		if space {
			n++
		}
		if b.Len()+n > max {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
