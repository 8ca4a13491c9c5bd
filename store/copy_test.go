package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

func TestCopy(t *testing.T) {
	ctx := context.Background()
	src, err := NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dst, err := NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 100 {
		k := fmt.Sprintf("exp/logs/c%03d.log", i)
		put(t, src, k, strings.Repeat("x", i))
		keys = append(keys, k)
	}
	if err := Copy(ctx, dst, src, keys, 8); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if got := string(get(t, dst, k)); got != strings.Repeat("x", i) {
			t.Errorf("%s: copied %q", k, got)
		}
	}
	err = Copy(ctx, dst, src, append(keys, "exp/logs/missing.log"), 8)
	if err == nil || !strings.Contains(err.Error(), "exp/logs/missing.log") {
		t.Errorf("Copy of a missing object = %v, want an error naming it", err)
	}
	if err := Copy(ctx, dst, src, keys, -1); err == nil || !strings.Contains(err.Error(), "parallel") {
		t.Errorf("Copy with parallel -1 = %v, want an error naming parallel", err)
	}
}

// Many small objects to MinIO through a link with 50 ms of round trip (as
// to a remote S3 region): the pool must copy them at least 3 times faster
// than one at a time, which shows that it runs in parallel on two cores
// shared with other tests. The goal (10× for 10k objects) is measured by
// `make bench` (package bench, row "pool").
func TestCopyPoolBeatsSerial(t *testing.T) {
	const n, parallel = 200, 100
	m := testenv.StartMinIO(t)
	proxy, err := measure.StartDelayProxy(m.Endpoint, 25*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	slow := proxy.Addr()
	ctx := context.Background()
	src, err := NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("exp/logs/stable/crate-%05d/1.0.0/1.log", i)
		put(t, src, keys[i], fmt.Sprintf("log of crate %d\n%s", i, strings.Repeat("warning: unused\n", i%64)))
	}
	timed := func(prefix string, parallel int) time.Duration {
		t.Helper()
		dst, err := NewS3(ctx, S3Config{Endpoint: slow, Bucket: "pool", Prefix: prefix, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := Copy(ctx, dst, src, keys, parallel); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		for _, i := range []int{0, n / 2, n - 1} {
			if got, want := string(get(t, dst, keys[i])), string(get(t, src, keys[i])); got != want {
				t.Errorf("%s: %s copied as %q, want %q", prefix, keys[i], got, want)
			}
		}
		return took
	}
	pooled := timed("pooled", parallel)
	serial := timed("serial", 1)
	ratio := float64(serial) / float64(pooled)
	t.Logf("%d objects over a 50 ms round trip: one at a time %s, %d at a time %s: %.1f× faster",
		n, serial.Round(time.Millisecond), parallel, pooled.Round(time.Millisecond), ratio)
	if ratio < 3 {
		t.Errorf("the pool is %.1f× faster than one at a time, want at least 3×", ratio)
	}
}
