package streams

import (
	"strings"
	"testing"
)

// TestDecoderReused feeds one Decoder good and bad messages in turn: a bad
// one must not leave anything behind that changes how the next decodes.
func TestDecoderReused(t *testing.T) {
	jobFrom := func(crate, source string) string {
		return `{"v":1,"experiment":"e","crate":"` + crate + `","version":"1.0.0","toolchain":"stable","mode":"check-only","crate_source":"` + source + `"}`
	}
	job := func(crate string) string { return jobFrom(crate, "/r") }
	// Past json.Decoder's first 512-byte buffer.
	long := jobFrom("l", "/r/"+strings.Repeat("x", 2000))
	var d Decoder
	for _, tc := range []struct {
		name, data string
		crate      string // what a good message decodes to
		wantErr    string
	}{
		{name: "first", data: job("a"), crate: "a"},
		{name: "trailing value", data: job("b") + `{"v":1}`, wantErr: "data after the JSON value"},
		{name: "after trailing value", data: job("c"), crate: "c"},
		{name: "trailing space", data: job("d") + " \n\t", crate: "d"},
		{name: "trailing garbage past the buffer", data: job("e") + strings.Repeat(" ", 3000) + "x", wantErr: "data after the JSON value"},
		{name: "truncated", data: job("f")[:40], wantErr: "unexpected EOF"},
		{name: "after truncated", data: job("g"), crate: "g"},
		{name: "syntax error", data: `{"v":1,,}`, wantErr: "invalid character"},
		{name: "after syntax error", data: job("h"), crate: "h"},
		{name: "unknown field", data: strings.Replace(job("i"), `"v":1`, `"v":1,"colour":"red"`, 1), wantErr: `unknown field "colour"`},
		{name: "after unknown field", data: job("j"), crate: "j"},
		{name: "invalid", data: job("../k"), wantErr: "crate name"},
		{name: "long", data: long, crate: "l"},
		{name: "after long", data: job("m"), crate: "m"},
		{name: "empty", data: "", wantErr: "EOF"},
		{name: "after empty", data: job("n"), crate: "n"},
	} {
		var j Job
		err := d.Decode([]byte(tc.data), &j)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: Decode = %v, want an error containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || j.Crate != tc.crate {
			t.Errorf("%s: Decode = %v, crate %q, want crate %q", tc.name, err, j.Crate, tc.crate)
		}
		// Decode of a single message must agree.
		var one Job
		if err := Decode([]byte(tc.data), &one); err != nil || one != j {
			t.Errorf("%s: Decode alone = %v, %+v; the reused Decoder gave %+v", tc.name, err, one, j)
		}
	}
}

func BenchmarkDecodeResult(b *testing.B) {
	data := []byte(`{"v":1,"experiment":"e","crate":"serde","version":"1.0.0","toolchain":"stable","attempt":1,"status":"test-pass","exit_code":0,"duration_ms":1234,"builder":"b1","log_key":"logs/stable/serde/1%2E0%2E0/1.log","finished_at":"2026-01-01T00:00:00Z"}`)
	b.Run("Decode", func(b *testing.B) {
		for b.Loop() {
			var r Result
			if err := Decode(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decoder", func(b *testing.B) {
		var d Decoder
		for b.Loop() {
			var r Result
			if err := d.Decode(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
