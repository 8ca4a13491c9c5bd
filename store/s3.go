package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
)

// S3PartSize is the part size of multipart uploads: S3's smallest. A
// streamed Put (size -1) buffers one part, so this bounds its memory (an
// uploader streams two objects per log); 10,000 parts of 5 MiB allow
// objects up to 48 GiB, far above any build log.
const S3PartSize = 5 << 20

// S3Config locates a bucket on an S3-compatible server.
type S3Config struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	Prefix    string // optional, '/'-separated, no leading or trailing '/'
	Secure    bool   // https
	Region    string // optional
	AccessKey string // static credentials; both keys empty: the standard chain (s3creds.go)
	SecretKey string
}

// Validate names the first missing or bad field.
func (c S3Config) Validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("s3 endpoint is empty")
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("s3 endpoint %q: want host:port without a scheme", c.Endpoint)
	case c.Bucket == "":
		return errors.New("s3 bucket is empty")
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return errors.New("s3 credentials: an access key and a secret key, or neither (the standard chain)")
	}
	if c.Prefix != "" {
		if err := ValidateKey(c.Prefix); err != nil {
			return fmt.Errorf("s3 prefix: %w", err)
		}
	}
	return nil
}

// S3 keeps objects in a bucket of an S3-compatible server (AWS, MinIO).
type S3 struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending in '/'
}

var _ Store = (*S3)(nil)

// NewS3 connects to the server and creates the bucket if it is missing.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	creds, err := s3Creds(ctx, cfg)
	if err != nil {
		return nil, err
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  creds,
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	s := &S3{client: client, bucket: cfg.Bucket}
	if cfg.Prefix != "" {
		s.prefix = cfg.Prefix + "/"
	}
	if err := s.ensureBucket(ctx, cfg.Region); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: check: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	// Another replica starting at the same time may have won the race.
	if code := errorCode(err); code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("s3 bucket %s: create: %w", s.bucket, err)
	}
	return nil
}

// s3SmallObject is how much of an object of unknown size Put reads ahead:
// an object that ends within it (most logs, once compressed) goes up in a
// single request, without a multipart upload's part buffer.
const s3SmallObject = 256 << 10

// Put uploads r. With size -1, an object that turns out to be smaller than
// s3SmallObject is sent in one request; a larger one is a multipart upload
// of S3PartSize parts, holding one part in memory, and only completed once
// r is exhausted without error, so the object appears whole or not at all.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if size < 0 {
		head := make([]byte, s3SmallObject)
		n, err := io.ReadFull(r, head)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			r, size = bytes.NewReader(head[:n]), int64(n)
		case err != nil:
			return fmt.Errorf("put %s: %w", s.Location(key), err)
		default:
			r = io.MultiReader(bytes.NewReader(head), r)
		}
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    S3PartSize,
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", s.Location(key), err)
	}
	return nil
}

// Get opens the object at key. minio-go's GetObject sends no request until
// the first read, so Get stats the object to report a missing key here
// rather than at the caller's first Read.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	// One GET, read as it comes: minio-go's Client.GetObject looks the
	// object up first and then GETs it If-Match that version, which fails
	// ("pre-conditions ... did not hold") when a report file is rewritten
	// in between, as the reporter does every second while an experiment
	// runs. A reader wants whichever version the GET finds.
	body, info, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.Location(key), notFound(err))
	}
	return &s3Object{ctx: ctx, s: s, key: key, body: body, size: info.Size, etag: info.ETag}, nil
}

// s3Object is an object being read: the body of one GET and, after a
// Seek, of a ranged GET of the same version (logtail reads the end of a
// big log so). It keeps Get's context for those, as minio-go's own
// Object does.
type s3Object struct {
	ctx  context.Context
	s    *S3
	key  string
	body io.ReadCloser
	size int64
	etag string
	off  int64 // offset of body's next byte
	pos  int64 // where the next Read reads
	err  error // of a ranged GET; sticky, so a failed one never reads as the end
}

func (o *s3Object) Read(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if o.pos != o.off {
		if o.err = o.reopen(); o.err != nil {
			return 0, o.err
		}
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	o.pos = o.off
	return n, err
}

// Seek only moves the position; the next Read asks for the range.
func (o *s3Object) Seek(offset int64, whence int) (int64, error) {
	abs := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		abs += o.pos
	case io.SeekEnd:
		abs += o.size
	default:
		return o.pos, fmt.Errorf("seek %s: whence %d", o.s.Location(o.key), whence)
	}
	if abs < 0 {
		return o.pos, fmt.Errorf("seek %s: negative position %d", o.s.Location(o.key), abs)
	}
	o.pos = abs
	return abs, nil
}

// reopen replaces body with one starting at pos, of the version first read.
func (o *s3Object) reopen() error {
	o.body.Close()
	o.off = o.pos
	if o.pos >= o.size {
		o.body = http.NoBody
		return nil
	}
	var opts minio.GetObjectOptions
	if o.pos > 0 { // SetRange(0, 0) would ask for the first byte alone
		if err := opts.SetRange(o.pos, 0); err != nil {
			return fmt.Errorf("read %s from %d: %w", o.s.Location(o.key), o.pos, err)
		}
	}
	if err := opts.SetMatchETag(o.etag); err != nil {
		return fmt.Errorf("read %s from %d: %w", o.s.Location(o.key), o.pos, err)
	}
	body, _, _, err := minio.Core{Client: o.s.client}.GetObject(o.ctx, o.s.bucket, o.s.prefix+o.key, opts)
	if err != nil {
		o.body = http.NoBody
		return fmt.Errorf("read %s from %d: %w", o.s.Location(o.key), o.pos, err)
	}
	o.body = body
	return nil
}

func (o *s3Object) Close() error { return o.body.Close() }

// List lists the bucket below the store's prefix and prefix, a page of
// keys at a time (minio-go's ListObjects).
func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		if err := ValidatePrefix(prefix); err != nil {
			yield(Object{}, fmt.Errorf("list: %w", err))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops minio-go's listing goroutine when the caller stops early
		for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
			if o.Err != nil {
				yield(Object{}, fmt.Errorf("list %s: %w", s.Location(strings.TrimSuffix(prefix, "/")), o.Err))
				return
			}
			key := strings.TrimPrefix(o.Key, s.prefix)
			if ValidateKey(key) != nil {
				continue // not an object this store could have written
			}
			if !yield(Object{Key: key, Size: o.Size, Modified: o.LastModified}, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(Object{}, fmt.Errorf("list %s: %w", prefix, err))
		}
	}
}

// Delete removes the object at key; S3 says nothing of a missing one.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil && notFound(err) != ErrNotFound {
		return fmt.Errorf("delete %s: %w", s.Location(key), err)
	}
	return nil
}

// Location is key's s3:// URL, or "" for a key ValidateKey refuses.
func (s *S3) Location(key string) string {
	if ValidateKey(key) != nil {
		return ""
	}
	return "s3://" + s.bucket + "/" + s.prefix + key
}

// notFound turns S3's "no such key" into ErrNotFound and leaves other
// errors alone.
func notFound(err error) error {
	if errorCode(err) == "NoSuchKey" {
		return ErrNotFound
	}
	return err
}

func errorCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}
