package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testStore is the behaviour every Store must have. newStore returns an
// empty store for each subtest.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			data []byte
			size int64 // -1: unknown
		}{
			{"empty known size", nil, 0},
			{"empty unknown size", nil, -1},
			{"text", []byte("hello\n"), 6},
			{"unknown size", []byte("hello\n"), -1},
			{"hostile bytes", []byte("<script>alert(1)</script>\xff\xfe\x00\x1b[31mred\x1b[0m\r\n"), -1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := newStore(t)
				if err := st.Put(ctx, "logs/a.log", bytes.NewReader(tc.data), tc.size, "text/plain"); err != nil {
					t.Fatalf("Put: %v", err)
				}
				if got := get(t, st, "logs/a.log"); !bytes.Equal(got, tc.data) {
					t.Errorf("Get = %q, want %q", got, tc.data)
				}
			})
		}
	})

	t.Run("CopyObject", func(t *testing.T) {
		st := newStore(t)
		c, ok := st.(ObjectCopier)
		if !ok {
			t.Skipf("%T copies no object by itself", st)
		}
		data := "the log\n\x1b[31mred\x1b[0m\n"
		put(t, st, "logs/stable/a/1.0.0/1.log", data)
		put(t, st, "crater/stable/reg/a-1.0.0/log.txt", "an older copy, longer than the log")
		for _, dst := range []string{"crater/stable/reg/a-1.0.0/log.txt", "crater/%2Fopt%2Frust+x/reg/a-1.0.0/log.txt"} {
			if err := c.CopyObject(ctx, dst, "logs/stable/a/1.0.0/1.log"); err != nil {
				t.Fatalf("CopyObject to %s: %v", dst, err)
			}
			if got := string(get(t, st, dst)); got != data {
				t.Errorf("%s = %q, want %q", dst, got, data)
			}
		}
		// The copy is an object of its own: replacing the source leaves it.
		put(t, st, "logs/stable/a/1.0.0/1.log", "replaced")
		if got := string(get(t, st, "crater/stable/reg/a-1.0.0/log.txt")); got != data {
			t.Errorf("copy after the source was replaced = %q, want %q", got, data)
		}
		if err := c.CopyObject(ctx, "crater/x/log.txt", "logs/missing.log"); !errors.Is(err, ErrNotFound) {
			t.Errorf("CopyObject of a missing object: %v, want ErrNotFound", err)
		}
		if err := c.CopyObject(ctx, "../out", "logs/stable/a/1.0.0/1.log"); err == nil {
			t.Error("CopyObject to ../out: no error")
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "k", "first version, longer")
		put(t, st, "k", "second")
		if got := string(get(t, st, "k")); got != "second" {
			t.Errorf("Get = %q, want %q", got, "second")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "dir/obj", "x")
		for _, key := range []string{"missing", "dir/missing", "dir", "dir/obj/below"} {
			rc, err := st.Get(ctx, key)
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
			}
		}
	})

	t.Run("FailedPutKeepsOldObject", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "k", "old")
		boom := errors.New("builder went away")
		r := io.MultiReader(strings.NewReader("partial new data"), errReader{boom})
		if err := st.Put(ctx, "k", r, -1, "text/plain"); !errors.Is(err, boom) {
			t.Fatalf("Put with failing reader = %v, want %v", err, boom)
		}
		if got := string(get(t, st, "k")); got != "old" {
			t.Errorf("after failed Put, Get = %q, want the old object", got)
		}
		if err := st.Put(ctx, "new", io.MultiReader(strings.NewReader("x"), errReader{boom}), -1, ""); err == nil {
			t.Fatal("Put with failing reader: no error")
		}
		if rc, err := st.Get(ctx, "new"); !errors.Is(err, ErrNotFound) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("after failed Put of a new key, Get = %v, want ErrNotFound", err)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := st.Put(cctx, "k", strings.NewReader("x"), -1, ""); err == nil {
			t.Error("Put with a cancelled context: no error")
		}
	})

	t.Run("LargeStream", func(t *testing.T) {
		st := newStore(t)
		const size = 40 << 20
		want := sha256.New()
		// struct{ io.Reader } hides any Seek or ReadAt, so the store cannot
		// cheat by rewinding or sizing the input.
		src := struct{ io.Reader }{io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), size), want)}
		if err := st.Put(ctx, "big/stream.log", src, -1, "text/plain"); err != nil {
			t.Fatalf("Put 40 MiB stream: %v", err)
		}
		rc, err := st.Get(ctx, "big/stream.log")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer rc.Close()
		got := sha256.New()
		n, err := io.Copy(got, rc)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Errorf("read back %d bytes with a different sha256, want %d identical bytes", n, size)
		}
	})

	t.Run("BadKeysRejectedBeforeIO", func(t *testing.T) {
		st := newStore(t)
		for _, key := range []string{"", "../escape", "/abs", "a//b", "a/./b", `a\b`, "a\x00b"} {
			err := st.Put(ctx, key, mustNotRead{t}, -1, "")
			if err == nil || !strings.Contains(err.Error(), "object key") {
				t.Errorf("Put(%q) = %v, want a key error", key, err)
			}
			rc, err := st.Get(ctx, key)
			if err == nil {
				rc.Close()
			}
			if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "object key") {
				t.Errorf("Get(%q) = %v, want a key error", key, err)
			}
			if loc := st.Location(key); loc != "" {
				t.Errorf("Location(%q) = %q, want empty", key, loc)
			}
			if err := st.Delete(ctx, key); err == nil || !strings.Contains(err.Error(), "object key") {
				t.Errorf("Delete(%q) = %v, want a key error", key, err)
			}
		}
		for _, prefix := range []string{"../", "/abs/", "a//"} {
			for _, err := range st.List(ctx, prefix) {
				if err == nil || !strings.Contains(err.Error(), "object key") {
					t.Errorf("List(%q) yielded %v, want a key error", prefix, err)
				}
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		st := newStore(t)
		keys := []string{"exp/logs/stable/a/1.log", "exp/logs/stable/a/1.json", "exp/logs/nightly/b/2.log",
			"exp/results.json", "exp-2/results.json", "expo", "other/x"}
		for _, k := range keys {
			put(t, st, k, k)
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", keys},
			{"exp/", keys[:4]},
			{"exp", keys[:6]},
			{"exp/logs/stable/", keys[:2]},
			{"exp/logs/st", keys[:2]},
			{"exp/results.json", keys[3:4]},
			{"missing/", nil},
			{"exp/logs/stable/a/1.log/", nil},
		} {
			var got []string
			for o, err := range st.List(ctx, tc.prefix) {
				if err != nil {
					t.Fatalf("List(%q): %v", tc.prefix, err)
				}
				if o.Size != int64(len(o.Key)) || o.Modified.IsZero() {
					t.Errorf("List(%q): %+v, want its size and time", tc.prefix, o)
				}
				got = append(got, o.Key)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("List(%q) = %q, want %q", tc.prefix, got, want)
			}
		}
		// A caller that stops early stops the listing.
		n := 0
		for range st.List(ctx, "") {
			if n++; n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("listing went on after the caller stopped: %d", n)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "exp/logs/a/1.log", "x")
		put(t, st, "exp/results.json", "y")
		for range 2 { // the second time, there is nothing to delete: no error
			if err := st.Delete(ctx, "exp/logs/a/1.log"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		if rc, err := st.Get(ctx, "exp/logs/a/1.log"); !errors.Is(err, ErrNotFound) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get of a deleted object: %v, want ErrNotFound", err)
		}
		var left []string
		for o, err := range st.List(ctx, "exp/") {
			if err != nil {
				t.Fatal(err)
			}
			left = append(left, o.Key)
		}
		if !slices.Equal(left, []string{"exp/results.json"}) {
			t.Errorf("left after Delete: %q", left)
		}
		if err := st.Delete(ctx, "exp"); err != nil {
			t.Errorf("Delete of a key that is only a prefix: %v", err)
		}
		if got := string(get(t, st, "exp/results.json")); got != "y" {
			t.Errorf("an object below the prefix deleted: %q", got)
		}
	})

	t.Run("DeletePrefix", func(t *testing.T) {
		st := newStore(t)
		var keys []string
		for i := range 150 {
			keys = append(keys, fmt.Sprintf("exp/logs/stable/c%03d/1.log", i))
		}
		keys = append(keys, "exp/results.json", "exp/index.html")
		kept := []string{"exp-2/results.json", "expo", "other/exp/x"}
		for _, k := range append(keys, kept...) {
			put(t, st, k, k)
		}
		for _, bad := range []string{"", "exp", "../", "/"} {
			if _, err := DeletePrefix(ctx, st, bad, 4); err == nil {
				t.Errorf("DeletePrefix(%q): no error", bad)
			}
		}
		n, err := DeletePrefix(ctx, st, "exp/", 8)
		if err != nil || n != len(keys) {
			t.Fatalf("DeletePrefix: %d deleted, %v; want %d", n, err, len(keys))
		}
		if left := storedKeys(t, st); !slices.Equal(left, kept) {
			t.Errorf("left after DeletePrefix: %q, want %q", left, kept)
		}
		if n, err := DeletePrefix(ctx, st, "exp/", 8); err != nil || n != 0 {
			t.Errorf("DeletePrefix again: %d, %v; want nothing to do", n, err)
		}
	})

	t.Run("DeleteWhere", func(t *testing.T) {
		st := newStore(t)
		gone := []string{"exp/crater/stable/reg/a-1.0.0/log.txt", "exp/crater/%2Fopt%2Frust+x/reg/a-1.0.0/log.txt"}
		kept := []string{"exp/crater/logs-archives/all.tar.zst", "exp/crater/results.json", "exp/logs/stable/a/1.0.0/log.txt"}
		for _, k := range append(gone, kept...) {
			put(t, st, k, k)
		}
		n, err := DeleteWhere(ctx, st, "exp/crater/", 4, func(k string) bool { return strings.HasSuffix(k, "/log.txt") })
		if err != nil || n != len(gone) {
			t.Fatalf("DeleteWhere: %d deleted, %v; want %d", n, err, len(gone))
		}
		if slices.Sort(kept); !slices.Equal(storedKeys(t, st), kept) {
			t.Errorf("left after DeleteWhere: %q, want %q", storedKeys(t, st), kept)
		}
	})
}

// storedKeys lists every key in st, sorted.
func storedKeys(t *testing.T, st Store) []string {
	t.Helper()
	var out []string
	for o, err := range st.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Key)
	}
	slices.Sort(out)
	return out
}

func put(t *testing.T, st Store, key, data string) {
	t.Helper()
	if err := st.Put(context.Background(), key, strings.NewReader(data), int64(len(data)), "text/plain"); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, st Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// mustNotRead fails the test if a store reads the body of a Put it should
// have refused.
type mustNotRead struct{ t *testing.T }

func (r mustNotRead) Read([]byte) (int, error) {
	r.t.Error("store read the body of a Put with a bad key")
	return 0, io.EOF
}
