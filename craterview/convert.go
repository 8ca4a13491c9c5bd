package craterview

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ejecta-build/ejecta/results"
)

// Runs are the first runs of c, in the order of toolchains.
func Runs(c *results.CrateResult, toolchains []string) [2]*Run {
	var runs [2]*Run
	for _, r := range c.Results {
		for i, tc := range toolchains[:min(2, len(toolchains))] {
			if r.Toolchain == tc {
				runs[i] = &Run{Toolchain: r.Toolchain, Status: r.Status, Reason: r.Reason}
			}
		}
	}
	return runs
}

// WriteResults writes to w crater's results.json of the experiment whose
// results.json r holds, of toolchains (the experiment's, baseline first),
// a crate at a time, and returns ejecta's header of it and crater's
// retry-regressed-list.txt. Neither file is held whole.
func WriteResults(w io.Writer, r io.Reader, toolchains []string) (*results.File, []byte, error) {
	bw := bufio.NewWriter(w)
	bw.WriteString(`{"crates":[`)
	var retry strings.Builder
	var entry []byte // one crate's, its buffer reused
	n := 0
	head, err := results.Read(r, func(c results.CrateResult, _ json.RawMessage) error {
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		entry = AppendCrateEntry(entry[:0], c.Name, c.Version, c.Class, Runs(&c, toolchains))
		if _, err := bw.Write(entry); err != nil {
			return err
		}
		if Retried(c.Class) {
			retry.WriteString(c.Name + "\n")
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("crater results.json: %w", err)
	}
	bw.WriteString("]}")
	if err := bw.Flush(); err != nil {
		return nil, nil, fmt.Errorf("crater results.json: %w", err)
	}
	return head, []byte(retry.String()), nil
}
