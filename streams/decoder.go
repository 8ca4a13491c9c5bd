package streams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decoder decodes messages as Decode does, keeping its buffers from one
// message to the next. The reporter decodes every result of an experiment,
// hundreds of thousands of them; allocating a json.Decoder and its buffer
// for each was a third of that cost. The zero Decoder is ready to use; it
// is not safe for concurrent use.
type Decoder struct {
	src bytes.Reader
	dec *json.Decoder
}

// errTrailing is the error for bytes after a message's JSON value.
var errTrailing = errors.New("data after the JSON value")

// Decode unmarshals data into v (a pointer to one of the message types) and
// validates it. A Result in the shape builders send takes a fast path of
// its own (decodeResult). Unknown fields and anything but white space after the JSON
// value are refused.
func (d *Decoder) Decode(data []byte, v interface{ Validate() error }) error {
	if r, ok := v.(*Result); ok {
		saved := *r
		if decodeResult(data, r) {
			return r.Validate()
		}
		*r = saved
	}
	if d.dec == nil {
		d.dec = json.NewDecoder(&d.src)
		d.dec.DisallowUnknownFields()
	}
	d.src.Reset(data)
	err := d.dec.Decode(v)
	if err == nil && !d.onlySpaceLeft() {
		err = errTrailing
	}
	if err != nil {
		// A json.Decoder keeps a syntax error for good, and bytes left in
		// its buffer would be read as the start of the next message: start
		// afresh rather than tell those cases apart.
		d.dec = nil
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return v.Validate()
}

// onlySpaceLeft reports whether what the decoder did not read of the
// message, buffered or not, is white space.
func (d *Decoder) onlySpaceLeft() bool {
	return spaceOnly(d.dec.Buffered()) && spaceOnly(&d.src)
}

func spaceOnly(r io.Reader) bool {
	var buf [64]byte
	for {
		n, err := r.Read(buf[:])
		if len(bytes.TrimLeft(buf[:n], " \t\r\n")) > 0 {
			return false
		}
		if err != nil {
			return true
		}
	}
}
