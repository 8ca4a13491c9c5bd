package reporter

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

// encodeChanged encodes every changed crate's entries, on every page, as
// the serial path would, and leaves a crate whose entries are current as
// it is.
func TestEncodeChanged(t *testing.T) {
	e := newExperiment("exp", 0)
	e.setRecord(testRecord())
	statuses := []streams.Status{streams.StatusTestPass, streams.StatusBuildFail, streams.StatusTestFail}
	for i := range 300 {
		crate := fmt.Sprintf("%c%c-crate-%d", 'a'+i%26, 'a'+(i/26)%26, i)
		for j, tc := range []string{"stable", "nightly"} {
			e.apply(res(crate, tc, 1, statuses[(i+j)%len(statuses)]), func(string) {})
		}
	}
	if len(e.prefixes) < 2 {
		t.Fatalf("%d pages, want several", len(e.prefixes))
	}
	// One crate encoded already: its entries must not be made again.
	kept := e.crates[crateKey{"aa-crate-0", "1.0.0"}]
	var scratch []byte
	keptEntry := kept.entry(&scratch)

	e.encodeChanged(true)
	if &kept.json[0] != &keptEntry[0] {
		t.Error("an entry already encoded was encoded again")
	}
	for _, cs := range e.crates {
		if cs.json == nil || cs.crater == nil || cs.row == nil {
			t.Fatalf("%s: entries not encoded", cs.key.name)
		}
		json, crater, row := cs.json, cs.crater, cs.row
		cs.json, cs.crater, cs.row = nil, nil, nil
		if want := cs.entry(&scratch); !bytes.Equal(json, want) {
			t.Errorf("%s: results.json entry %s, want %s", cs.key.name, json, want)
		}
		if want := cs.craterEntry(&scratch); !bytes.Equal(crater, want) {
			t.Errorf("%s: crater entry %s, want %s", cs.key.name, crater, want)
		}
		if want := cs.rowHTML(); !bytes.Equal(row, want) {
			t.Errorf("%s: row %s, want %s", cs.key.name, row, want)
		}
	}
}
