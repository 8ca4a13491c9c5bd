package archive

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/store"
)

// slowStore is a real store whose reads start late, like a remote bucket's.
type slowStore struct {
	store.Store
	delay time.Duration
}

func (s slowStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	time.Sleep(s.delay)
	return s.Store.Get(ctx, key)
}

// TestReadsOverlapOnASlowStore: with a round trip per read, the pool reads
// the next logs while one is written; one reader at a time pays every
// round trip in turn.
func TestReadsOverlapOnASlowStore(t *testing.T) {
	fs := stores(t)["file"](t)
	var logs []testLog
	var entries []Entry
	for i := range 40 {
		l := putLog(t, fs, "same-test-pass/c"+itoa(i)+"-1.0.0/stable.log", 2000, uint64(i+1), true)
		logs, entries = append(logs, l), append(entries, l.entry)
	}
	st := slowStore{fs, 10 * time.Millisecond}
	timed := func(parallel int) time.Duration {
		start := time.Now()
		if _, err := Write(context.Background(), st, testPrefix, testPrefix+"a.tar.zst", entries, Options{Parallel: parallel}); err != nil {
			t.Fatal(err)
		}
		checkArchive(t, fs, testPrefix+"a.tar.zst", logs)
		return time.Since(start)
	}
	serial, pooled := timed(1), timed(8)
	t.Logf("40 logs, 10 ms per read: one reader %s, eight %s (%.1f×)", serial, pooled, float64(serial)/float64(pooled))
	if pooled*3 > serial {
		t.Errorf("eight readers took %s, one %s: want at least 3× faster", pooled, serial)
	}
}
