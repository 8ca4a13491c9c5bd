// Package registry reads a crates.io-style sparse registry over HTTP: its
// index (which versions a crate has, with the sha256 of each .crate file)
// and the .crate files, which it keeps in a cache bounded by size and
// unpacks as cargo's directory sources expect them.
package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/streams"
)

// ErrNotFound: the registry's index has no such crate, or not that version.
var ErrNotFound = errors.New("not in the registry")

// maxIndexFileBytes bounds one crate's index file; crates.io's largest
// are a few MiB.
const maxIndexFileBytes = 64 << 20

// Version is one line of a crate's index file.
type Version struct {
	Name   string `json:"name"`
	Vers   string `json:"vers"`
	Cksum  string `json:"cksum"` // sha256 of the .crate file, hex
	Yanked bool   `json:"yanked"`
}

// fetchError is a failed download of the registry's config.json or of a
// .crate file. The builder writes its message into the build's public log,
// so it names what was fetched and from which URL the registry's template
// made, and nothing a registry could learn of the builder host's network
// from: no address, HTTP status, size or hash of what came back. Those are
// its detail, which the builder's own log gets (zerolog calls
// MarshalZerologObject for an error that has it).
type fetchError struct {
	msg    string
	kind   error // ErrChecksum, or nil
	detail error
}

func (e *fetchError) Error() string { return e.msg }

func (e *fetchError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.kind, e.detail} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// MarshalZerologObject logs the message and the detail.
func (e *fetchError) MarshalZerologObject(ev *zerolog.Event) {
	ev.Str("message", e.msg)
	if e.detail != nil {
		ev.Str("detail", e.detail.Error())
	}
}

// Client reads one sparse registry.
type Client struct {
	// Index is the index URL, cargo's notation without the "sparse+":
	// "https://index.crates.io/".
	Index string
	// HTTP connects only where the index is, or to public addresses
	// (dial.go).
	HTTP *http.Client

	mu sync.Mutex
	dl string // the download template of the registry's config.json, once read
}

// NewClient returns a client of the sparse registry at source, given in
// cargo's notation ("sparse+https://index.crates.io/").
func NewClient(source string) (*Client, error) {
	if err := streams.ValidateCrateSource(source); err != nil || !streams.IsRegistrySource(source) {
		return nil, fmt.Errorf("registry %s: want sparse+http(s)://host/path/", streams.Bounded(source))
	}
	index := strings.TrimPrefix(source, "sparse+")
	u, err := url.Parse(index)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", streams.Bounded(source), err)
	}
	return &Client{Index: index, HTTP: newHTTPClient(u)}, nil
}

// IndexPath is where the index keeps a crate's file, relative to the
// index URL: 1/a, 2/ab, 3/a/abc, ab/cd/abcd… (lower case).
func IndexPath(name string) string {
	n := strings.ToLower(name)
	switch len(n) {
	case 0:
		return ""
	case 1:
		return "1/" + n
	case 2:
		return "2/" + n
	case 3:
		return "3/" + n[:1] + "/" + n
	}
	return n[:2] + "/" + n[2:4] + "/" + n
}

// Versions returns every version the index lists for name, yanked ones
// included, in the index's order (oldest first).
func (c *Client) Versions(ctx context.Context, name string) ([]Version, error) {
	if err := streams.ValidateCrateName(name); err != nil {
		return nil, fmt.Errorf("registry index: %w", err)
	}
	data, err := c.get(ctx, c.Index+IndexPath(name), maxIndexFileBytes)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("crate %s: %w %s", name, ErrNotFound, c.Index)
	}
	if err != nil {
		return nil, fmt.Errorf("index of crate %s: %w", name, err)
	}
	var out []Version
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxIndexFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v Version
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("index of crate %s, line %d: %w", name, n, err)
		}
		if !strings.EqualFold(v.Name, name) || v.Vers == "" || len(v.Cksum) != 64 {
			return nil, fmt.Errorf("index of crate %s, line %d: want name %q, a version and a 64-digit cksum; have %q %q %q",
				name, n, name, streams.Bounded(v.Name), streams.Bounded(v.Vers), streams.Bounded(v.Cksum))
		}
		out = append(out, v)
	}
	return out, nil
}

// Version returns the index entry of name at version.
func (c *Client) Version(ctx context.Context, name, version string) (Version, error) {
	vs, err := c.Versions(ctx, name)
	if err != nil {
		return Version{}, err
	}
	for _, v := range vs {
		if v.Vers == version {
			return v, nil
		}
	}
	return Version{}, fmt.Errorf("crate %s %s: %w %s", name, version, ErrNotFound, c.Index)
}

// downloadURL fills the registry's download template in as cargo does.
func (c *Client) downloadURL(ctx context.Context, v Version) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dl == "" {
		data, err := c.get(ctx, c.Index+"config.json", 1<<20)
		if err != nil {
			return "", &fetchError{msg: fmt.Sprintf("registry config.json at %s: could not be read", c.Index), detail: err}
		}
		var cfg struct {
			DL string `json:"dl"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil || cfg.DL == "" {
			return "", &fetchError{msg: fmt.Sprintf("registry config.json at %s: want a JSON object with \"dl\"", c.Index), detail: err}
		}
		c.dl = cfg.DL
	}
	markers := []string{"{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"}
	if !containsAny(c.dl, markers) {
		return strings.TrimSuffix(c.dl, "/") + "/" + url.PathEscape(v.Name) + "/" + url.PathEscape(v.Vers) + "/download", nil
	}
	prefix := strings.TrimSuffix(IndexPath(v.Name), "/"+strings.ToLower(v.Name))
	r := strings.NewReplacer("{crate}", url.PathEscape(v.Name), "{version}", url.PathEscape(v.Vers),
		"{prefix}", prefix, "{lowerprefix}", strings.ToLower(prefix), "{sha256-checksum}", v.Cksum)
	return r.Replace(c.dl), nil
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// get fetches u whole, refusing a body over limit bytes.
func (c *Client) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	resp, err := c.open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", u, limit)
	}
	return data, nil
}

// open starts a GET of u; the caller closes the body. 404 and 410 are
// ErrNotFound, as cargo takes them.
func (c *Client) open(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("User-Agent", "ejecta")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return resp, nil
}
