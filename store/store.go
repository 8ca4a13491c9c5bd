// Package store keeps objects (logs, reports) under a prefix in a local
// directory or an S3-compatible bucket. Keys are '/'-separated relative
// paths; ValidateKey refuses any key that could leave the prefix.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
)

// ErrNotFound is returned by Get for a key that holds no object.
var ErrNotFound = errors.New("object not found")

// Store is an object store rooted at a prefix.
type Store interface {
	// Put writes the object at key from r. size may be -1 when unknown: the
	// implementation then streams (multipart upload, file write) without
	// holding the object in memory. The object appears whole or not at all.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the object at key; ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Location is where a person finds key: a file path or an s3:// URL.
	Location(key string) string
	// List yields every object whose key starts with prefix ("": all),
	// one at a time, in no promised order; an error ends it. Nothing is
	// held but what is being yielded, so a store of millions of objects
	// lists in bounded memory. An object being written is not listed.
	List(ctx context.Context, prefix string) iter.Seq2[Object, error]
	// Delete removes the object at key. One that is not there is no
	// error: deleting is idempotent, as retries need.
	Delete(ctx context.Context, key string) error
}

// Object is one stored object, as List yields it.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// ValidatePrefix checks a List prefix: "" or a key's start, which may end
// in '/' but otherwise follows ValidateKey.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	return nil
}

// ValidateKey refuses keys that are empty, absolute, contain empty, "." or
// ".." segments, backslashes or control bytes.
func ValidateKey(key string) error {
	if key == "" {
		return errors.New("object key is empty")
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("object key %q: absolute", key)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("object key %q: forbidden byte %q", key, c)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("object key %q: bad segment %q", key, seg)
		}
	}
	return nil
}
