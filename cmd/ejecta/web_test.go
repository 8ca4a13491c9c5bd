package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/web"
	"github.com/spf13/pflag"
)

// TestWebListensOnLoopbackByDefault checks that `ejecta web` and `ejecta
// up`, given no --http, serve the UI to this machine only, and say so in
// their help; and that both take the web UI's other flags.
func TestWebListensOnLoopbackByDefault(t *testing.T) {
	t.Setenv("EJECTA_HTTP", "")
	for _, command := range []string{"web", "up"} {
		t.Run(command, func(t *testing.T) {
			out, err := run(t, command, "--help")
			if err != nil {
				t.Fatal(err)
			}
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "--http ") {
					line = l
				}
			}
			if !strings.Contains(line, `(default "127.0.0.1:8080")`) {
				t.Errorf("--http in the help of %s: %q, want the default 127.0.0.1:8080", command, line)
			}
			for _, flag := range []string{"--access-token-file", "--max-streams ", "--max-streams-per-client", "--max-stream-lifetime", "--trust-forwarded-for", "--cookie-secure"} {
				if !strings.Contains(out, flag) {
					t.Errorf("%s takes no %s", command, flag)
				}
			}
		})
	}
}

const testToken = "a-web-token-for-tests-0123456789"

// TestWebFlags checks that the web UI's flags, or their environment
// variables, reach its configuration, and that a bad value is refused
// naming the flag or the variable.
func TestWebFlags(t *testing.T) {
	dir := t.TempDir()
	tokenFile, shortFile := filepath.Join(dir, "token"), filepath.Join(dir, "short")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shortFile, []byte("letmein"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    web.Config
		wantErr string
	}{
		{"defaults", nil, nil, web.Config{Addr: defaultWebAddr, MaxStreams: 256, MaxStreamsPerClient: 16, MaxStreamLifetime: 30 * time.Minute}, ""},
		{"flags", []string{"--max-streams", "40", "--max-streams-per-client", "4", "--max-stream-lifetime", "5m", "--trust-forwarded-for", "--cookie-secure"}, nil,
			web.Config{Addr: defaultWebAddr, MaxStreams: 40, MaxStreamsPerClient: 4, MaxStreamLifetime: 5 * time.Minute, TrustForwardedFor: true, CookieSecure: true}, ""},
		{"environment", nil, map[string]string{"EJECTA_WEB_MAX_STREAMS": "50", "EJECTA_WEB_MAX_STREAMS_PER_CLIENT": "5",
			"EJECTA_WEB_MAX_STREAM_LIFETIME": "1h", "EJECTA_WEB_TRUST_FORWARDED_FOR": "true", "EJECTA_WEB_COOKIE_SECURE": "true"},
			web.Config{Addr: defaultWebAddr, MaxStreams: 50, MaxStreamsPerClient: 5, MaxStreamLifetime: time.Hour, TrustForwardedFor: true, CookieSecure: true}, ""},
		{"flag over environment", []string{"--max-streams", "7"}, map[string]string{"EJECTA_WEB_MAX_STREAMS": "50"},
			web.Config{Addr: defaultWebAddr, MaxStreams: 7, MaxStreamsPerClient: 16, MaxStreamLifetime: 30 * time.Minute}, ""},
		{"no lifetime", []string{"--max-stream-lifetime", "0s"}, nil, web.Config{}, "--max-stream-lifetime 0s: want a positive duration"},
		{"bad lifetime", nil, map[string]string{"EJECTA_WEB_MAX_STREAM_LIFETIME": "forever"}, web.Config{},
			`environment EJECTA_WEB_MAX_STREAM_LIFETIME="forever" (for --max-stream-lifetime)`},
		{"no streams", []string{"--max-streams", "0"}, nil, web.Config{}, `invalid argument "0" for "--max-streams" flag: 0: want 1 to 1048576`},
		{"bad environment", nil, map[string]string{"EJECTA_WEB_MAX_STREAMS_PER_CLIENT": "-1"}, web.Config{},
			`environment EJECTA_WEB_MAX_STREAMS_PER_CLIENT="-1" (for --max-streams-per-client): -1: want 1 to 1048576`},
		{"bad boolean", nil, map[string]string{"EJECTA_WEB_TRUST_FORWARDED_FOR": "perhaps"}, web.Config{},
			`environment EJECTA_WEB_TRUST_FORWARDED_FOR="perhaps" (for --trust-forwarded-for)`},
		{"token file", []string{"--access-token-file", tokenFile}, nil,
			web.Config{Addr: defaultWebAddr, MaxStreams: 256, MaxStreamsPerClient: 16, MaxStreamLifetime: 30 * time.Minute, AccessToken: testToken}, ""},
		{"token file from the environment", nil, map[string]string{"EJECTA_WEB_TOKEN_FILE": tokenFile},
			web.Config{Addr: defaultWebAddr, MaxStreams: 256, MaxStreamsPerClient: 16, MaxStreamLifetime: 30 * time.Minute, AccessToken: testToken}, ""},
		{"missing token file", []string{"--access-token-file", tokenFile + ".missing"}, nil, web.Config{},
			"--access-token-file: access token: open " + tokenFile + ".missing: no such file or directory"},
		{"short token", []string{"--access-token-file", shortFile}, nil, web.Config{},
			"--access-token-file: access token in " + shortFile + ": 7 bytes, want at least 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var f webFlags
			fs := pflag.NewFlagSet("web", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f.register(fs)
			err := fs.Parse(tc.args)
			if err == nil {
				err = applyEnv(fs)
			}
			var cfg web.Config
			if err == nil {
				cfg, err = f.config(defaultWebAddr)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg, tc.want) {
				t.Errorf("config %+v, want %+v", cfg, tc.want)
			}
		})
	}
}

// TestWebAccessTokenProcess runs `ejecta web --access-token-file
// --metrics-addr` as its own process: without the token its pages and
// /metrics, on --http and on --metrics-addr alike, answer 401; with it as
// a bearer token, 200. Health probes carry no token: /healthz and /readyz
// answer on both addresses without one.
func TestWebAccessTokenProcess(t *testing.T) {
	srv := testenv.StartNATS(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ui := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	met := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(os.Args[0], "--nats", srv.URL, "--log-format", "json", "web",
		"--http", strings.TrimPrefix(ui, "http://"), "--metrics-addr", strings.TrimPrefix(met, "http://"),
		"--store", "file://"+t.TempDir(), "--access-token-file", tokenFile)
	cmd.Env = append(os.Environ(), "EJECTA_TEST_RUN_MAIN=1")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("output:\n%s", logs.String())
		}
	})
	status := func(url, token string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for status(ui+"/metrics", testToken) != 200 || status(met+"/metrics", testToken) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("ejecta web did not serve within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tc := range []struct {
		url, token string
		want       int
	}{
		{ui + "/", "", 401},
		{ui + "/builders", "", 401},
		{ui + "/metrics", "", 401},
		{met + "/metrics", "", 401},
		{met + "/metrics", "wrong-token-0123456789", 401},
		{ui + "/", testToken, 200},
		{ui + "/metrics", testToken, 200},
		{met + "/metrics", testToken, 200},
		{ui + "/healthz", "", 200},
		{ui + "/readyz", "", 200},
		{met + "/healthz", "", 200},
		{met + "/readyz", "", 200},
	} {
		if got := status(tc.url, tc.token); got != tc.want {
			t.Errorf("GET %s with token %q: %d, want %d", tc.url, tc.token, got, tc.want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after Ctrl-C: %v", err)
	}
}
