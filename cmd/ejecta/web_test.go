package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/web"
	"github.com/spf13/pflag"
)

// TestWebListensOnLoopbackByDefault checks that `ejecta web` and `ejecta
// up`, given no --http, serve the UI to this machine only, and say so in
// their help.
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
		})
	}
}

// TestWebFlags checks that the web UI's flags, or their environment
// variables, reach its configuration, and that a bad value is refused
// naming the flag or the variable.
func TestWebFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    web.Config
		wantErr string
	}{
		{"defaults", nil, nil, web.Config{Addr: defaultWebAddr, MaxStreams: 256, MaxStreamsPerClient: 16, MaxStreamLifetime: 30 * time.Minute}, ""},
		{"flags", []string{"--max-streams", "40", "--max-streams-per-client", "4", "--max-stream-lifetime", "5m", "--trust-forwarded-for"}, nil,
			web.Config{Addr: defaultWebAddr, MaxStreams: 40, MaxStreamsPerClient: 4, MaxStreamLifetime: 5 * time.Minute, TrustForwardedFor: true}, ""},
		{"environment", nil, map[string]string{"EJECTA_WEB_MAX_STREAMS": "50", "EJECTA_WEB_MAX_STREAMS_PER_CLIENT": "5",
			"EJECTA_WEB_MAX_STREAM_LIFETIME": "1h", "EJECTA_WEB_TRUST_FORWARDED_FOR": "true"},
			web.Config{Addr: defaultWebAddr, MaxStreams: 50, MaxStreamsPerClient: 5, MaxStreamLifetime: time.Hour, TrustForwardedFor: true}, ""},
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
				err = checkEnv(fs)
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
