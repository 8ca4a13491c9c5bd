package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/minio/minio-go/v7"
)

// ObjectCopier is a Store that copies one of its objects to another of its
// keys without the bytes passing through the caller: a server-side copy on
// S3, a hard link on disk. Like Put, the copy replaces any object at dst
// and appears whole or not at all; a missing src is ErrNotFound.
type ObjectCopier interface {
	CopyObject(ctx context.Context, dst, src string) error
}

var (
	_ ObjectCopier = (*S3)(nil)
	_ ObjectCopier = (*File)(nil)
)

// CopyObject copies src to dst on the server: the bytes never leave it,
// and are billed as a second object. The object's metadata (content type)
// goes with it. minio-go's ComposeObject makes it one CopyObject request
// up to S3's 5 GiB limit for one, a multipart copy past it (a log may be
// larger).
func (s *S3) CopyObject(ctx context.Context, dst, src string) error {
	if err := ValidateKey(dst); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := ValidateKey(src); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	_, err := s.client.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: s.prefix + dst},
		minio.CopySrcOptions{Bucket: s.bucket, Object: s.prefix + src})
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", s.Location(src), s.Location(dst), notFound(err))
	}
	return nil
}

// CopyObject makes dst a hard link to src: no byte is copied and no disk
// space used until one of the names is replaced (Put renames a new file
// over a key, so replacing one never changes the other) or removed.
func (f *File) CopyObject(ctx context.Context, dst, src string) (err error) {
	if err := ValidateKey(dst); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := ValidateKey(src); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer root.Close()
	if dir := path.Dir(dst); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("copy %s to %s: %w", src, dst, err)
		}
	}
	// Linked under a temporary name, then renamed, so that an object
	// already at dst is replaced whole.
	tmp, err := tempName(dst)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := root.Link(src, tmp); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return fmt.Errorf("copy %s to %s: %w", f.Location(src), f.Location(dst), err)
	}
	if err := root.Rename(tmp, dst); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return f.syncDirs(root, dst)
}
