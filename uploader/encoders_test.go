package uploader

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// An encoder given back, whether its stream was finished or given up,
// writes the next log as a stream of its own, and the pool keeps no more
// encoders than it was made for.
func TestEncoderPool(t *testing.T) {
	p := newEncoderPool(2)
	var given []*zstd.Encoder
	for range 3 {
		var out bytes.Buffer
		zw, err := p.get(&out)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write([]byte("given up half-way"))
		given = append(given, zw)
	}
	for _, zw := range given {
		p.put(zw)
	}
	if n := len(p.idle); n != 2 {
		t.Fatalf("%d encoders kept, want 2", n)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for i, log := range []string{"   Compiling itoa v1.0.1\n", "error[E0425]: cannot find value\n", "ok\n"} {
		var out bytes.Buffer
		zw, err := p.get(&out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write([]byte(log)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		p.put(zw)
		got, err := dec.DecodeAll(out.Bytes(), nil)
		if err != nil || string(got) != log {
			t.Errorf("log %d: decoded %q, %v; want %q", i, got, err, log)
		}
	}
	if n := len(p.idle); n != 2 {
		t.Errorf("%d encoders kept after reuse, want 2", n)
	}
}
