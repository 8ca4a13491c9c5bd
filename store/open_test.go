package store

import (
	"context"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var ejectaCreds = map[string]string{EnvS3AccessKey: "ak", EnvS3SecretKey: "sk"}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct {
		url  string
		env  map[string]string
		want string // substring of the error
	}{
		{"ftp://host/dir", nil, `unknown scheme "ftp" (accepted: file, s3)`},
		{"relative/dir", nil, "relative path"},
		{"file:relative", nil, "relative path"},
		{"file://somehost/dir", nil, `file URL with host "somehost"`},
		{"file:///dir?x=1", nil, "unknown parameter x (accepted: none)"},
		{"s3:///prefix", ejectaCreds, "missing bucket"},
		{"s3://bucket?secure=maybe", ejectaCreds, `secure="maybe": want true or false`},
		{"s3://bucket?endpiont=h:1", ejectaCreds, "unknown parameter endpiont (accepted: endpoint, region, secure)"},
		{"s3://bucket/a/../b", ejectaCreds, "prefix"},
		{"s3://bucket", map[string]string{EnvS3AccessKey: "ak"}, "EJECTA_S3_ACCESS_KEY is set but EJECTA_S3_SECRET_KEY is not"},
		{"s3://bucket", map[string]string{EnvAWSSecretKey: "sk"}, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"},
		{"s3://key:hunter2@bucket", ejectaCreds, "credentials in the URL are not accepted"},
		{"s3://bucket\x7f", ejectaCreds, "store URL"},
	} {
		_, _, err := parseURL(tc.url, env(tc.env))
		if err == nil {
			t.Errorf("parseURL(%q): no error, want %q", tc.url, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseURL(%q) = %q, want it to contain %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parseURL(%q) leaks the secret: %q", tc.url, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		env     map[string]string
		wantDir string
		wantS3  *S3Config
	}{
		{url: "/srv/ejecta", wantDir: "/srv/ejecta"},
		{url: "/srv/ejecta/", wantDir: "/srv/ejecta"},
		{url: "file:///srv/ejecta", wantDir: "/srv/ejecta"},
		{url: "file://localhost/srv/ejecta", wantDir: "/srv/ejecta"},
		{
			url: "s3://logs", env: ejectaCreds,
			wantS3: &S3Config{Endpoint: "s3.amazonaws.com", Bucket: "logs", Secure: true, AccessKey: "ak", SecretKey: "sk"},
		},
		{
			// The AWS pair is the standard chain's to read (with
			// AWS_SESSION_TOKEN), as is everything else.
			url: "s3://logs/ejecta/prod/?endpoint=127.0.0.1:9000&secure=false&region=us-east-1",
			env: map[string]string{EnvAWSAccessKey: "aws-ak", EnvAWSSecretKey: "aws-sk"},
			wantS3: &S3Config{Endpoint: "127.0.0.1:9000", Bucket: "logs", Prefix: "ejecta/prod",
				Region: "us-east-1"},
		},
		{
			url:    "s3://logs",
			wantS3: &S3Config{Endpoint: "s3.amazonaws.com", Bucket: "logs", Secure: true},
		},
		{
			// ejecta's own pair wins over the AWS one.
			url:    "s3://logs",
			env:    map[string]string{EnvS3AccessKey: "ak", EnvS3SecretKey: "sk", EnvAWSAccessKey: "x", EnvAWSSecretKey: "y"},
			wantS3: &S3Config{Endpoint: "s3.amazonaws.com", Bucket: "logs", Secure: true, AccessKey: "ak", SecretKey: "sk"},
		},
	} {
		dir, cfg, err := parseURL(tc.url, env(tc.env))
		if err != nil {
			t.Errorf("parseURL(%q): %v", tc.url, err)
			continue
		}
		if dir != tc.wantDir {
			t.Errorf("parseURL(%q) dir = %q, want %q", tc.url, dir, tc.wantDir)
		}
		switch {
		case (cfg == nil) != (tc.wantS3 == nil):
			t.Errorf("parseURL(%q) s3 = %+v, want %+v", tc.url, cfg, tc.wantS3)
		case cfg != nil && *cfg != *tc.wantS3:
			t.Errorf("parseURL(%q) s3 = %+v, want %+v", tc.url, *cfg, *tc.wantS3)
		}
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(context.Background(), "file://"+dir+"/objects")
	if err != nil {
		t.Fatal(err)
	}
	f, ok := st.(*File)
	if !ok {
		t.Fatalf("Open(file://...) = %T, want *File", st)
	}
	if got, want := f.Location("a/b.log"), dir+"/objects/a/b.log"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
}
