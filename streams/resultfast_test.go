package streams

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// builderResults are results as builders publish them (json.Marshal of a
// Result): the fast path must take every one.
func builderResults(t testing.TB) [][]byte {
	k := BuildKey{Experiment: "e", Crate: "serde", Version: "1.0.0", Toolchain: "stable"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 678900000, time.UTC)
	var out [][]byte
	for _, r := range []Result{
		{V: 1, BuildKey: k, Attempt: 1, Status: StatusTestPass, DurationMS: 1234, Builder: "b1", LogKey: LogObjectKey(k, 1), FinishedAt: at},
		{V: 1, BuildKey: k, Attempt: 2, Status: StatusBuildFail, Reason: ReasonOOM, ExitCode: -9, DurationMS: 0, Builder: "b-2", FinishedAt: at, SharedTarget: true, MAC: "abc123"},
		{V: 1, BuildKey: k, Attempt: 1, Status: StatusError, Reason: "sandbox-error", ExitCode: 101, Builder: "b1", FinishedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))},
	} {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// jsonResult decodes data as Decoder's fallback does: encoding/json,
// unknown fields refused, nothing but white space after the value.
func jsonResult(data []byte) (Result, error) {
	var r Result
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, err
	}
	if rest := data[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		return r, errTrailing
	}
	return r, nil
}

func TestDecodeResultFast(t *testing.T) {
	for _, data := range builderResults(t) {
		var r Result
		if !decodeResult(data, &r) {
			t.Fatalf("the fast path declined a builder's result: %s", data)
		}
		want, err := jsonResult(data)
		if err != nil || !reflect.DeepEqual(r, want) {
			t.Fatalf("fast path: %+v\nencoding/json: %+v (%v)", r, want, err)
		}
	}
	good := string(builderResults(t)[0])
	declined := []struct{ name, data string }{
		{"a name in other case", `{"V":1}`},
		{"a name twice", `{"v":1,"v":2}`},
		{"an unknown name", `{"v":1,"sender":"x"}`},
		{"an escape", `{"v":1,"crate":"a\u0062"}`},
		{"not ASCII", `{"v":1,"crate":"é"}`},
		{"null", `{"v":1,"reason":null}`},
		{"first_error", `{"v":1,"first_error":{"message":"x"}}`},
		{"a fraction", `{"v":1.0}`},
		{"an exponent", `{"v":1e0}`},
		{"a leading zero", `{"v":01}`},
		{"out of range", `{"duration_ms":9223372036854775808}`},
		{"a number as a string", `{"attempt":"1"}`},
		{"a trailing comma", `{"v":1,}`},
		{"data after", good + `{}`},
		{"not a time", `{"finished_at":"yesterday"}`},
		{"truncated", good[:len(good)-1]},
		{"empty", ``},
	}
	for _, tc := range declined {
		t.Run(tc.name, func(t *testing.T) {
			var r Result
			if decodeResult([]byte(tc.data), &r) {
				t.Fatalf("the fast path took %s", tc.data)
			}
		})
	}
}

// TestDecoderFallsBack checks that a result the fast path declines is
// decoded, or refused, by encoding/json through Decoder, starting afresh.
func TestDecoderFallsBack(t *testing.T) {
	var d Decoder
	var r Result
	if err := d.Decode([]byte(`{"v":1,"experiment":"e","crate":"a\u0062","version":"1.0.0","toolchain":"stable","attempt":1,"status":"test-pass","builder":"b1","finished_at":"2026-01-01T00:00:00Z"}`), &r); err != nil || r.Crate != "ab" {
		t.Fatalf("escaped crate: %v, crate %q", err, r.Crate)
	}
	r = Result{}
	err := d.Decode([]byte(`{"v":1,"sender":"mallory"}`), &r)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`unknown field "sender"`)) {
		t.Fatalf("unknown field: %v", err)
	}
}

// FuzzDecodeResult holds the fast path to encoding/json: whatever it
// takes, encoding/json takes too, into the same Result.
func FuzzDecodeResult(f *testing.F) {
	for _, data := range builderResults(f) {
		f.Add(data)
		f.Add(bytes.ReplaceAll(data, []byte(","), []byte(" ,\n\t")))
	}
	f.Add([]byte(`{"v":-0,"attempt":-1,"shared_target":false}`))
	f.Add([]byte(` { } `))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Result
		if !decodeResult(data, &r) {
			return
		}
		want, err := jsonResult(data)
		if err != nil {
			t.Fatalf("the fast path took what encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("%q:\nfast path: %+v\nencoding/json: %+v", data, r, want)
		}
	})
}
