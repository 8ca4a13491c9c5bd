package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Environment variables Open reads S3 credentials from. ejecta's own pair
// is taken as it is; without it the AWS pair, or else the rest of the
// standard chain (s3creds.go), so a machine already set up for the aws CLI
// or running with an IAM role needs nothing more.
const (
	EnvS3AccessKey  = "EJECTA_S3_ACCESS_KEY"
	EnvS3SecretKey  = "EJECTA_S3_SECRET_KEY"
	EnvAWSAccessKey = "AWS_ACCESS_KEY_ID"
	EnvAWSSecretKey = "AWS_SECRET_ACCESS_KEY"
)

// defaultS3Endpoint is used when an s3:// URL names no endpoint.
const defaultS3Endpoint = "s3.amazonaws.com"

// Open returns the store a URL names:
//
//	file:///abs/dir  or  /abs/dir                     a directory
//	s3://bucket[/prefix]?endpoint=host:port&secure=false&region=us-east-1
//
// For s3, endpoint defaults to AWS and secure to true; credentials come from
// EJECTA_S3_ACCESS_KEY and EJECTA_S3_SECRET_KEY, or else the standard chain
// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the shared credentials file,
// an IAM role), never from the URL (URLs end up in logs).
func Open(ctx context.Context, rawURL string) (Store, error) {
	dir, s3cfg, err := parseURL(rawURL, os.Getenv)
	if err != nil {
		return nil, err
	}
	if s3cfg != nil {
		return NewS3(ctx, *s3cfg)
	}
	return NewFile(dir)
}

// CheckURL names what is wrong with a store URL, as Open would, without
// opening anything.
func CheckURL(rawURL string) error {
	_, _, err := parseURL(rawURL, os.Getenv)
	return err
}

// parseURL reads rawURL into a directory or an S3 configuration (exactly
// one is set). getenv is os.Getenv outside tests.
func parseURL(rawURL string, getenv func(string) string) (string, *S3Config, error) {
	if strings.HasPrefix(rawURL, "/") {
		return filepath.Clean(rawURL), nil, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, which may hold a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", nil, fmt.Errorf("store URL: %w", err)
	}
	if u.User != nil {
		return "", nil, fmt.Errorf("store URL %s: credentials in the URL are not accepted; set %s and %s",
			u.Redacted(), EnvS3AccessKey, EnvS3SecretKey)
	}
	switch u.Scheme {
	case "file":
		dir, err := parseFileURL(u)
		return dir, nil, err
	case "s3":
		cfg, err := parseS3URL(u, getenv)
		return "", cfg, err
	case "":
		return "", nil, fmt.Errorf("store URL %q: relative path or missing scheme; want file:///abs/dir, /abs/dir or s3://bucket", rawURL)
	default:
		return "", nil, fmt.Errorf("store URL %q: unknown scheme %q (accepted: file, s3)", rawURL, u.Scheme)
	}
}

func parseFileURL(u *url.URL) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("store URL %q: file URL with host %q; want file:///abs/dir", u.String(), u.Host)
	}
	if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", fmt.Errorf("store URL %q: relative path; want file:///abs/dir", u.String())
	}
	if err := onlyParams(u, nil); err != nil {
		return "", err
	}
	return filepath.Clean(u.Path), nil
}

var s3Params = []string{"endpoint", "region", "secure"}

func parseS3URL(u *url.URL, getenv func(string) string) (*S3Config, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("store URL %q: missing bucket; want s3://bucket[/prefix]", u.String())
	}
	if err := onlyParams(u, s3Params); err != nil {
		return nil, err
	}
	q := u.Query()
	cfg := &S3Config{
		Endpoint: q.Get("endpoint"),
		Bucket:   u.Host,
		Prefix:   strings.Trim(u.Path, "/"),
		Secure:   true,
		Region:   q.Get("region"),
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = defaultS3Endpoint
	}
	if s := q.Get("secure"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("store URL %q: secure=%q: want true or false", u.String(), s)
		}
		cfg.Secure = b
	}
	if cfg.Prefix != "" {
		if err := ValidateKey(cfg.Prefix); err != nil {
			return nil, fmt.Errorf("store URL %q: prefix: %w", u.String(), err)
		}
	}
	ak, sk, err := s3Credentials(getenv)
	if err != nil {
		return nil, fmt.Errorf("store URL %q: %w", u.String(), err)
	}
	cfg.AccessKey, cfg.SecretKey = ak, sk
	return cfg, nil
}

// s3Credentials takes both keys from ejecta's pair of variables, or none:
// the standard chain then finds them (s3creds.go). A half-set pair, ejecta's
// or AWS's, is an error: mixing an ejecta access key with an AWS secret
// would only fail later, obscurely.
func s3Credentials(getenv func(string) string) (string, string, error) {
	for _, pair := range [][2]string{{EnvS3AccessKey, EnvS3SecretKey}, {EnvAWSAccessKey, EnvAWSSecretKey}} {
		ak, sk := getenv(pair[0]), getenv(pair[1])
		switch {
		case ak != "" && sk != "":
			if pair[0] == EnvS3AccessKey {
				return ak, sk, nil
			}
			return "", "", nil // the chain reads them, with AWS_SESSION_TOKEN
		case ak != "" || sk != "":
			set, unset := pair[0], pair[1]
			if ak == "" {
				set, unset = unset, set
			}
			return "", "", fmt.Errorf("missing credentials: %s is set but %s is not", set, unset)
		}
	}
	return "", "", nil
}

// onlyParams refuses query parameters outside accepted, so that a typo such
// as "endpiont=" is an error rather than a silently ignored setting.
func onlyParams(u *url.URL, accepted []string) error {
	var unknown []string
	for k := range u.Query() {
		if !slices.Contains(accepted, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	want := "none"
	if len(accepted) > 0 {
		want = strings.Join(accepted, ", ")
	}
	return fmt.Errorf("store URL %q: unknown parameter %s (accepted: %s)", u.String(), strings.Join(unknown, ", "), want)
}
