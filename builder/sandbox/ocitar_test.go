package sandbox

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// imageProgram is the one program of the test image. It proves what the
// task sees: a read-only root that is the image's (no /usr), a writable
// /tmp and job dir (its argument). Its first line has bytes no text
// encoding would keep.
const imageProgram = `package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

func try(what, path string) {
	err := os.WriteFile(path, []byte("x"), 0o644)
	switch {
	case err == nil:
		fmt.Println(what + ": writable")
	case errors.Is(err, syscall.EROFS):
		fmt.Println(what + ": read-only file system")
	default:
		fmt.Println(what+":", err)
	}
}

func main() {
	os.Stdout.Write([]byte("hello from the image \x00\xff\x1b[1m\n"))
	try("/", "/probe")
	try("/tmp", "/tmp/probe")
	try("job dir", os.Args[1]+"/probe")
	if _, err := os.Stat("/usr"); errors.Is(err, fs.ErrNotExist) {
		fmt.Println("/usr: not there")
	} else {
		fmt.Println("/usr:", err)
	}
	fmt.Fprintln(os.Stderr, "to stderr")
}
`

// imageProgramStdout is what imageProgram prints in the sandbox.
const imageProgramStdout = "hello from the image \x00\xff\x1b[1m\n/: read-only file system\n/tmp: writable\njob dir: writable\n/usr: not there\n"

// buildImageProgram compiles imageProgram as a static binary.
func buildImageProgram(t *testing.T) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Unavailable(t, "go toolchain to build the test image's program: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(imageProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command(goBin, "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the image's program: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeOCIImage writes an OCI image layout tarball to path: one gzipped
// layer holding a bin/ directory and files (path in the image, below bin/,
// → content, all executable), for
// the host's platform.
func writeOCIImage(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	// The layer: a tar (its digest is the config's diff ID), gzipped (its
	// digest is the manifest's).
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var layerGz bytes.Buffer
	gz := gzip.NewWriter(&layerGz)
	gz.Write(layerTar.Bytes())
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}

	blobs := map[digest.Digest][]byte{}
	blob := func(mediaType string, data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		blobs[d] = data
		return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	platform := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	config := blob(ocispec.MediaTypeImageConfig, mustJSON(ocispec.Image{
		Platform: platform,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(layerTar.Bytes())}},
	}))
	layer := blob(ocispec.MediaTypeImageLayerGzip, layerGz.Bytes())
	manifest := blob(ocispec.MediaTypeImageManifest, mustJSON(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: config, Layers: []ocispec.Descriptor{layer},
	}))
	manifest.Platform = &platform
	index := mustJSON(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifest},
	})

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := tar.NewWriter(f)
	add := func(name string, data []byte) {
		if err := out.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add(ocispec.ImageLayoutFile, mustJSON(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}))
	add("index.json", index)
	for d, data := range blobs {
		add("blobs/"+d.Algorithm().String()+"/"+d.Encoded(), data)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
