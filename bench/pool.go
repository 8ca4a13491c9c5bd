package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
)

// poolDelay is added each way between the client and MinIO: 20 ms of
// round trip, as to a store in another region.
const poolDelay = 10 * time.Millisecond

// Pool measures store.Copy of many small objects onto MinIO through a
// link with added latency, with its pool of 100 uploads at once, against
// one object at a time over the same link.
func Pool(t testing.TB, full bool) []Row {
	n := 100
	if full {
		n = 10_000
	}
	const parallel = 100
	m := testenv.StartMinIO(t)
	proxy, err := measure.StartDelayProxy(m.Endpoint, poolDelay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	ctx := context.Background()
	src, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("exp/logs/stable/crate-%05d/1.0.0/1.log", i)
		body := fmt.Sprintf("log of crate %d\n%s", i, strings.Repeat("warning: unused\n", i%64))
		if err := src.Put(ctx, keys[i], strings.NewReader(body), int64(len(body)), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	timed := func(prefix string, parallel int) time.Duration {
		t.Helper()
		dst, err := store.NewS3(ctx, store.S3Config{Endpoint: proxy.Addr(), Bucket: "pool", Prefix: prefix, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := store.Copy(ctx, dst, src, keys, parallel); err != nil {
			t.Fatalf("copy %d objects, %d at a time: %v", n, parallel, err)
		}
		took := time.Since(start)
		if !exists(dst, keys[n-1]) {
			t.Fatalf("%s: %s not copied", prefix, keys[n-1])
		}
		return took
	}
	pooled := timed("pooled", parallel)
	serial := timed("serial", 1)
	r := serial.Seconds() / pooled.Seconds()
	return []Row{{
		Figure:   fmt.Sprintf("upload of %s small objects to MinIO, %s added round trip, pooled (%d at once)", size(n), 2*poolDelay, parallel),
		Ejecta:   fmt.Sprintf("%s (%.0f objects/s)", pooled.Round(time.Millisecond), float64(n)/pooled.Seconds()),
		Baseline: fmt.Sprintf("%s serial (%.0f objects/s)", serial.Round(time.Millisecond), float64(n)/serial.Seconds()),
		Ratio:    fmt.Sprintf("%.1f× faster", r),
		Goal:     "≥ 10×",
		Verdict:  judge(full, r >= 10),
	}}
}
