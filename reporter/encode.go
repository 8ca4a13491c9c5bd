package reporter

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// encodeChanged encodes the results.json and crater view entries of every
// crate changed since they were last encoded, and its HTML row too when
// rows is set (the pages are due), on every core, a page at a time. Each crate's entries are its own and the run loop, which alone
// changes crates, waits for the write being prepared, so the pages can be
// encoded side by side. A write after a burst at crater's size has
// hundreds of thousands of changed crates, and their encoding is most of
// the time from the last result to the report.
func (e *experiment) encodeChanged(rows bool) {
	workers := min(runtime.GOMAXPROCS(0), len(e.prefixes))
	if workers < 2 {
		return // resultsJSON and craterResults encode them as they go
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var scratch []byte
			for {
				i := int(next.Add(1)) - 1
				if i >= len(e.prefixes) {
					return
				}
				p := e.pages[e.prefixes[i]]
				if !p.dirty {
					continue // its crates have not changed since it was written
				}
				for _, cs := range p.rows {
					cs.entry(&scratch)
					cs.craterEntry(&scratch)
					if rows {
						cs.rowHTML()
					}
				}
			}
		})
	}
	wg.Wait()
}
