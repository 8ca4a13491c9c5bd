package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

// noCredentials clears every source of the standard chain for t: no
// variables, no shared file, no container or web-identity role.
func noCredentials(t *testing.T) {
	home := t.TempDir()
	for _, k := range []string{EnvS3AccessKey, EnvS3SecretKey, EnvAWSAccessKey, EnvAWSSecretKey, "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))
}

// Without EJECTA_S3_*, credentials come from the standard chain: the AWS
// variables, a shared credentials file, an IAM role (here an ECS-style
// task role served on loopback, as the container agent serves it).
func TestS3CredentialChain(t *testing.T) {
	m := testenv.StartMinIO(t)
	ctx := context.Background()
	roundTrip := func(t *testing.T) {
		t.Helper()
		st, err := Open(ctx, m.StoreURL("chain"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		put(t, st, "k", t.Name())
		if got := string(get(t, st, "k")); got != t.Name() {
			t.Errorf("Get = %q, want %q", got, t.Name())
		}
	}

	t.Run("environment", func(t *testing.T) {
		noCredentials(t)
		t.Setenv(EnvAWSAccessKey, m.AccessKey)
		t.Setenv(EnvAWSSecretKey, m.SecretKey)
		roundTrip(t)
	})
	t.Run("shared file", func(t *testing.T) {
		noCredentials(t)
		file := filepath.Join(t.TempDir(), "credentials")
		ini := "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[ejecta]\naws_access_key_id = " +
			m.AccessKey + "\naws_secret_access_key = " + m.SecretKey + "\n"
		if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
		t.Setenv("AWS_PROFILE", "ejecta")
		roundTrip(t)
	})
	t.Run("IAM role", func(t *testing.T) {
		noCredentials(t)
		asked := 0
		role := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked++
			json.NewEncoder(w).Encode(map[string]any{
				"AccessKeyId": m.AccessKey, "SecretAccessKey": m.SecretKey,
				"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			})
		}))
		defer role.Close()
		t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", role.URL+"/v2/credentials")
		roundTrip(t)
		if asked == 0 {
			t.Error("the role's endpoint was never asked")
		}
	})
	t.Run("none", func(t *testing.T) {
		noCredentials(t)
		// No instance metadata either: a loopback port nothing serves
		// stands in for 169.254.169.254 off AWS.
		t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/v2/credentials")
		start := time.Now()
		_, err := Open(ctx, m.StoreURL("chain"))
		if !errors.Is(err, ErrNoCredentials) || !Refused(err) {
			t.Errorf("Open without credentials: %v, want ErrNoCredentials, a refusal", err)
		}
		if took := time.Since(start); took > 2*iamTimeout {
			t.Errorf("finding no credentials took %s", took)
		}
	})
	t.Run("ejecta's pair first", func(t *testing.T) {
		noCredentials(t)
		t.Setenv(EnvS3AccessKey, m.AccessKey)
		t.Setenv(EnvS3SecretKey, m.SecretKey)
		t.Setenv(EnvAWSAccessKey, "wrong")
		t.Setenv(EnvAWSSecretKey, "wrong")
		roundTrip(t)
	})
}
