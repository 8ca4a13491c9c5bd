package buildlog

import (
	"bytes"
	"crypto/sha256"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
)

// FuzzReaderAdd feeds arbitrary messages to the log checker: it must
// return an error or accept them, never panic, and never write bytes of a
// message it refused.
func FuzzReaderAdd(f *testing.F) {
	f.Add("chunk", "1", "0", []byte("hello"))
	f.Add("end", "1", "", []byte(`{"chunks":0,"bytes":0,"sha256":""}`))
	f.Add("end", "2", "", []byte(`{"chunks":1`))
	f.Add("chunk", "18446744073709551615", "-1", []byte{0xff})
	f.Add("", "0", "x", []byte(nil))
	f.Fuzz(func(t *testing.T, kind, seq, offset string, data []byte) {
		var out bytes.Buffer
		r := &Reader{subj: "s", next: 1, sum: sha256.New(), lastNL: true}
		h := nats.Header{}
		h.Set(HdrKind, kind)
		h.Set(HdrSeq, seq)
		h.Set(HdrOffset, offset)
		err := r.add(h, data, &out)
		if err != nil && out.Len() != 0 {
			t.Errorf("refused message but wrote %d bytes", out.Len())
		}
		if err == nil && kind == KindChunk && (seq != "1" || offset != "0") {
			if n, _ := strconv.ParseUint(seq, 10, 64); n == 1 {
				return // "01" and such parse to 1
			}
			t.Errorf("accepted chunk seq=%q offset=%q as the first", seq, offset)
		}
	})
}
