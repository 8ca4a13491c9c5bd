package results

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	var names, raws []string
	collect := func(c CrateResult, raw json.RawMessage) error {
		names = append(names, c.Name+"@"+c.Version+" "+string(c.Class))
		raws = append(raws, string(raw))
		return nil
	}
	// The header may come before or after the crates.
	in := `{"v":2,"experiment":"e1","crates":[{"name":"a","version":"1.0.0","class":"regressed"},` +
		`{"name":"b","version":"2.0.0","class":"pending"}],"total_jobs":4,"done_jobs":3}`
	head, err := Read(strings.NewReader(in), collect)
	if err != nil {
		t.Fatal(err)
	}
	if head.Experiment != "e1" || head.TotalJobs != 4 || head.DoneJobs != 3 || head.Crates != nil {
		t.Errorf("header %+v", head)
	}
	if strings.Join(names, ", ") != "a@1.0.0 regressed, b@2.0.0 pending" || raws[1] != `{"name":"b","version":"2.0.0","class":"pending"}` {
		t.Errorf("crates %q, raw %q", names, raws)
	}

	// A File without crates, as encoding/json writes it, has none.
	names = nil
	if head, err := Read(strings.NewReader(`{"v":2,"experiment":"e0","crates":null}`), collect); err != nil || head.Experiment != "e0" || names != nil {
		t.Errorf(`Read of "crates": null: %+v, %v, crates %q`, head, err, names)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"another version", `{"v":1,"experiment":"e1","crates":[]}`, "version 1, want 2"},
		{"no version", `{"experiment":"e1","crates":[]}`, "version 0, want 2"},
		{"not an object", `[]`, "want \"{\""},
		{"crates not a list", `{"v":2,"crates":{}}`, "crates: found"},
		{"a crate not an object", `{"v":2,"crates":[1]}`, "crate 0:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.in), func(CrateResult, json.RawMessage) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
