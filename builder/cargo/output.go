package cargo

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// jsonFormat makes cargo print its messages, and the compiler's
// diagnostics, as JSON lines on stdout, each diagnostic carrying the text
// rustc would have printed (colours included) as its rendered field. The
// builder reads the diagnostics from the JSON and writes the rendered text
// into the log, so that the log reads as the same command without the flag
// would print it.
const jsonFormat = "--message-format=json-diagnostic-rendered-ansi"

// jsonSubcommands are the cargo subcommands run with jsonFormat. Others
// (generate-lockfile, fix, miri) are classified from their text.
var jsonSubcommands = map[string]bool{"build": true, "check": true, "test": true, "doc": true, "clippy": true}

// maxMessageLine bounds a JSON line the builder reads as a message: one
// diagnostic of a large macro expansion takes a few hundred KiB. A longer
// line goes to the log as text, unread.
const maxMessageLine = 1 << 20

// stepOutput takes one step's stdout and stderr into the log. Its writes
// into the log are serialised, so that each knows the log line it went to
// (Log.Line): the first error's place in the log.
type stepOutput struct {
	mu   sync.Mutex
	log  Log
	diag *diagnostics
}

// newStepOutput returns the step's stdout and stderr writers. With json,
// stdout is read as cargo's JSON messages (jsonFormat); else both are text.
func newStepOutput(log Log, diag *diagnostics, json bool) (stdout, stderr io.Writer) {
	o := &stepOutput{log: log, diag: diag}
	stderr = &textStream{o: o, w: log.Stderr, diag: &diagLines{d: diag, errors: true}}
	out := &textStream{o: o, w: log.Stdout, diag: &diagLines{d: diag}}
	if !json {
		return out, stderr
	}
	// The rendered diagnostics go to stderr from stdout's goroutine: their
	// text rules need a line splitter of their own.
	rendered := &textStream{o: o, w: log.Stderr, diag: &diagLines{d: diag}}
	return &jsonStream{o: o, text: out, rendered: rendered}, stderr
}

// write writes p into the log through w and returns the log line its
// first byte went to: 0 when unknown, or when p did not reach the log as
// written (the log's cap held it back).
func (o *stepOutput) write(w io.Writer, p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line := o.line()
	if _, err := w.Write(p); err != nil {
		return 0, err
	}
	if line > 0 && o.line() != line+bytes.Count(p, newline) {
		line = 0
	}
	return line, nil
}

func (o *stepOutput) line() int {
	if o.log.Line == nil {
		return 0
	}
	return o.log.Line()
}

var newline = []byte{'\n'}

// textStream passes a stream's bytes into the log as they come, and past
// the diagnostics' text rules.
type textStream struct {
	o    *stepOutput
	w    io.Writer
	diag *diagLines
}

func (t *textStream) Write(p []byte) (int, error) {
	line, err := t.o.write(t.w, p)
	if err != nil {
		return 0, err
	}
	t.diag.write(p, line)
	return len(p), nil
}

// jsonStream reads cargo's stdout under jsonFormat. A line that is one of
// cargo's messages is taken out of the log: a compiler diagnostic is
// replaced by its rendered text (on stderr, where rustc prints it) and
// read by the diagnostics; the others (artifacts, build scripts run, the
// build finished) are what cargo does not print without the flag. Every
// other line is text and passes through as it comes: a test's output, or
// a line that only looks like JSON. Once cargo says the build finished,
// the rest is the crate's tests' output, which could print anything: it
// is all text.
//
// Only a line starting with '{' is held back, up to maxMessageLine bytes.
type jsonStream struct {
	o        *stepOutput
	text     *textStream // the log's stdout
	rendered *textStream // the log's stderr
	buf      []byte      // the JSON line so far
	state    int
	finished bool
}

// jsonStream states.
const (
	atLineStart = iota
	inText
	inJSON
)

func (s *jsonStream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch s.state {
		case atLineStart:
			s.state = inText
			if p[0] == '{' && !s.finished {
				s.state = inJSON
			}
		case inText:
			end, i := len(p), bytes.IndexByte(p, '\n')
			if i >= 0 {
				end = i + 1
				s.state = atLineStart
			}
			if _, err := s.text.Write(p[:end]); err != nil {
				return 0, err
			}
			p = p[end:]
		case inJSON:
			i := bytes.IndexByte(p, '\n')
			piece := p
			if i >= 0 {
				piece = p[:i]
			}
			if len(s.buf)+len(piece) > maxMessageLine {
				// Not a message the builder reads: the line is text.
				err := s.flushText(s.buf)
				s.state = inText
				if err != nil {
					return 0, err
				}
				continue
			}
			s.buf = append(s.buf, piece...)
			if i < 0 {
				p = nil
				continue
			}
			p = p[i+1:]
			s.state = atLineStart
			if err := s.message(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flushText writes the held bytes to the log as text.
func (s *jsonStream) flushText(b []byte) error {
	_, err := s.text.Write(b)
	s.reset()
	return err
}

// reset empties buf, letting a large one go.
func (s *jsonStream) reset() {
	if cap(s.buf) > 64<<10 {
		s.buf = nil
	}
	s.buf = s.buf[:0]
}

// message handles the JSON line held in buf, its newline read.
func (s *jsonStream) message() error {
	var m cargoMessage
	if json.Unmarshal(s.buf, &m) != nil || !cargoReasons[m.Reason] {
		return s.flushText(append(s.buf, '\n'))
	}
	s.reset()
	switch m.Reason {
	case "build-finished":
		s.finished = true
	case "compiler-message":
		if m.Message == nil {
			return nil
		}
		line := 0
		if m.Message.Rendered != "" {
			var err error
			if line, err = s.o.write(s.rendered.w, []byte(m.Message.Rendered)); err != nil {
				return err
			}
		}
		s.o.diag.message(&m, line)
		// The rendered text passes the text rules as it would have
		// without the flag (a full disk is reported in a diagnostic too),
		// a line at a time.
		s.rendered.diag.write([]byte(m.Message.Rendered), line)
		if r := m.Message.Rendered; r != "" && r[len(r)-1] != '\n' {
			s.rendered.diag.write(newline, 0)
		}
	}
	return nil
}

// cargoReasons are the messages cargo prints under jsonFormat.
var cargoReasons = map[string]bool{
	"compiler-message": true, "compiler-artifact": true, "build-script-executed": true,
	"build-finished": true, "timing-info": true,
}

// cargoMessage is what the builder reads of one of cargo's JSON messages.
type cargoMessage struct {
	Reason       string      `json:"reason"`
	PackageID    string      `json:"package_id"`
	ManifestPath string      `json:"manifest_path"`
	Message      *diagnostic `json:"message"`
}

// diagnostic is rustc's JSON diagnostic, as much as the builder reads.
type diagnostic struct {
	Message string `json:"message"`
	Code    *struct {
		Code string `json:"code"`
	} `json:"code"`
	Level    string `json:"level"`
	Spans    []span `json:"spans"`
	Rendered string `json:"rendered"`
}

type span struct {
	FileName  string `json:"file_name"`
	LineStart int    `json:"line_start"`
	IsPrimary bool   `json:"is_primary"`
}
