package uploader

import (
	"bufio"
	"bytes"
	"io"
	"os"
)

// stagingMemory is how much of a page staging keeps in memory before it
// moves the page to a file. Most logs are small; their pages then never
// cost a file's creation and removal, the dear calls on a busy disk, and a
// page that does move to a file has this much written ahead of it, as
// the buffer before the file was.
const stagingMemory = 64 << 10

// staging holds a page being rendered: in memory up to stagingMemory, then
// in a temporary file under dir ("" for the system's), so that no page is
// held in memory whole.
type staging struct {
	dir string
	mem []byte
	f   *os.File // nil while the page fits in mem
	bw  *bufio.Writer
}

func (s *staging) Write(b []byte) (int, error) {
	if s.f == nil {
		if len(s.mem)+len(b) <= stagingMemory {
			s.mem = append(s.mem, b...)
			return len(b), nil
		}
		f, err := os.CreateTemp(s.dir, "ejecta-page-*.html")
		if err != nil {
			return 0, err // names the dir
		}
		s.f, s.bw = f, bufio.NewWriterSize(f, stagingMemory)
		if _, err := s.bw.Write(s.mem); err != nil {
			return 0, err
		}
		s.mem = nil
	}
	return s.bw.Write(b)
}

// finish returns the page staged and its size, to read from its start.
func (s *staging) finish() (io.Reader, int64, error) {
	if s.f == nil {
		return bytes.NewReader(s.mem), int64(len(s.mem)), nil
	}
	if err := s.bw.Flush(); err != nil {
		return nil, 0, err
	}
	size, err := s.f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = s.f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return nil, 0, err
	}
	return s.f, size, nil
}

// discard drops the page, removing its file if it had one.
func (s *staging) discard() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
	s.mem = nil
}
