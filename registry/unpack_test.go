package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crate gzips a tar of the given entries, each followed by its Size of
// zeros.
func crate(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(make([]byte, h.Size))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func file(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}
}

func dir(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}
}

// A .crate of directories and empty files, a few hundred KiB, once
// unpacked to 100,000 inodes and 197 MiB of disk: MaxUnpackedBytes
// counted only the bytes of regular files. Now every file and directory
// counts, and nothing of a refused crate is left.
func TestUnpackBombOfEntries(t *testing.T) {
	const dirs, files = 50_000, 50_000
	var entries []*tar.Header
	for i := range dirs {
		entries = append(entries, dir(fmt.Sprintf("bomb-1.0.0/d%06d/", i)))
	}
	for i := range files {
		entries = append(entries, file(fmt.Sprintf("bomb-1.0.0/f%06d", i), 0))
	}
	data := crate(t, entries...)
	v := Version{Name: "bomb", Vers: "1.0.0", Cksum: strings.Repeat("0", 64)}
	out := t.TempDir()
	err := Unpack(bytes.NewReader(data), out, v)
	t.Logf("a %d KiB .crate of %d entries: %v", len(data)>>10, dirs+files, err)
	if want := fmt.Sprintf("more than %d files and directories", MaxUnpackedEntries); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Unpack: %v, want an error containing %q", err, want)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("the refused crate left %d entries in the unpack dir", len(left))
	}
}

// A crate with as many files as the largest real ones, and more, in
// directories the tar does not list (cargo writes files only), unpacks.
func TestUnpackManyFiles(t *testing.T) {
	const dirs, perDir = 500, 40 // 20,000 files, 3 times stm32-metapac's
	var entries []*tar.Header
	for d := range dirs {
		for f := range perDir {
			entries = append(entries, file(fmt.Sprintf("many-1.0.0/src/chips/c%03d/f%02d.rs", d, f), int64(100+f*50)))
		}
	}
	v := Version{Name: "many", Vers: "1.0.0", Cksum: strings.Repeat("0", 64)}
	out := t.TempDir()
	if err := Unpack(bytes.NewReader(crate(t, entries...)), out, v); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(filepath.Join(out, "many-1.0.0", "src"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if n != dirs*perDir {
		t.Errorf("unpacked %d files, want %d", n, dirs*perDir)
	}
}

// A .crate of a few MiB that inflates past MaxUnpackedBytes is refused
// once the bound is passed, not read to the end: here an entry of a type
// that makes nothing, 1 GiB of zeros the tar reader would read through
// to skip. (Gzip members concatenated make one stream.)
func TestUnpackInflateBomb(t *testing.T) {
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	tw.WriteHeader(file("bomb-1.0.0/Cargo.toml", 2))
	tw.Write([]byte("[]"))
	tw.WriteHeader(&tar.Header{Name: "bomb-1.0.0/skipped", Typeflag: 'Z', Size: MaxUnpackedBytes})
	// No tw.Close: the entry's data follows as zeros, then the end of
	// the archive, two blocks of zeros.
	var data bytes.Buffer
	member := func(b []byte) {
		zw, _ := gzip.NewWriterLevel(&data, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
	}
	member(head.Bytes())
	start := data.Len()
	member(make([]byte, 16<<20))
	zeros := data.Bytes()[start:]
	for range (MaxUnpackedBytes >> 24) + 1 {
		data.Write(zeros)
	}
	v := Version{Name: "bomb", Vers: "1.0.0", Cksum: strings.Repeat("0", 64)}
	err := Unpack(bytes.NewReader(data.Bytes()), t.TempDir(), v)
	t.Logf("a %d KiB .crate inflating to %d MiB: %v", data.Len()>>10, (MaxUnpackedBytes+16<<20)>>20, err)
	if want := fmt.Sprintf("decompresses to more than %d MiB", MaxUnpackedBytes>>20); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Unpack: %v, want an error containing %q", err, want)
	}
}

// Each bound, small: what counts against it.
func TestUnpackBounds(t *testing.T) {
	const mib = 1 << 20
	bytesBound := bounds{bytes: mib, entries: 1000}
	entriesBound := bounds{bytes: mib, entries: 100}
	deep := "c-1.0.0/" + strings.Repeat("d/", 100) + "lib.rs"
	var emptyFiles, dirs, files []*tar.Header
	for i := range mib / blockSize {
		emptyFiles = append(emptyFiles, file(fmt.Sprintf("c-1.0.0/e%03d", i), 0))
		dirs = append(dirs, dir(fmt.Sprintf("c-1.0.0/d%03d/", i)))
	}
	for i := range 100 {
		files = append(files, file(fmt.Sprintf("c-1.0.0/f%03d", i), 1))
	}
	tests := []struct {
		name    string
		limit   bounds
		entries []*tar.Header
		want    string // "" for no error
	}{
		{"under the bounds", entriesBound, []*tar.Header{file("c-1.0.0/src/lib.rs", 600<<10), dir("c-1.0.0/tests/")}, ""},
		// 256 blocks, and the unpack dir's.
		{"an empty file takes a block", bytesBound, emptyFiles, "more than 1 MiB"},
		{"a directory takes a block", bytesBound, dirs, "more than 1 MiB"},
		// 4 KiB under 1 MiB, in 257 blocks with the unpack dir's.
		{"a file takes whole blocks", bytesBound, []*tar.Header{file("c-1.0.0/a", 512<<10+1), file("c-1.0.0/b", 512<<10-blockSize-1)}, "more than 1 MiB"},
		{"files and the unpack dir count", entriesBound, files, "more than 100 files and directories"},
		{"so do the directories on a file's path", entriesBound, []*tar.Header{file(deep, 1)}, "more than 100 files and directories"},
		{"the tar stream counts", bytesBound, []*tar.Header{file("c-1.0.0/Cargo.toml", 1), {Name: "c-1.0.0/x", Typeflag: 'Z', Size: mib}}, "decompresses to more than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := unpack(bytes.NewReader(crate(t, tt.entries...)), filepath.Join(t.TempDir(), "c-1.0.0"), "c-1.0.0", tt.limit)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("unpack: %v, want %q", err, tt.want)
			}
		})
	}
}
