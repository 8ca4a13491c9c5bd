package cargo

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/registry"
	"github.com/ejecta-build/ejecta/streams"
)

// TestFetchFailure: what ends an attempt whose crates could not be fetched
// says whose fault it was, the registry's or the builder's own disk.
func TestFetchFailure(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     streams.Status
		reason     streams.Reason
		logMention string
	}{
		{"registry down", errors.New("get http://reg/config.json: connection refused"),
			streams.StatusPrepareFail, streams.ReasonDownloadFailed, "cannot fetch the crates: get http://reg/config.json"},
		{"checksum", fmt.Errorf("itoa 1.0.0: %w", registry.ErrChecksum),
			streams.StatusPrepareFail, streams.ReasonChecksumMismatch, "cannot fetch the crates: itoa 1.0.0"},
		{"cargo config", workspaceFault{errors.New("write cargo config: no space left on device")},
			streams.StatusError, "workspace-error", "builder error: write cargo config: no space left on device"},
		{"cache, wrapped", fmt.Errorf("vendor: %w", workspaceFault{errors.New("open crate cache /c: not a directory")}),
			streams.StatusError, "workspace-error", "builder error: open crate cache /c: not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sys bytes.Buffer
			b := &Build{Log: Log{System: &sys}, Logger: zerolog.Nop()}
			v := b.fetchFailure(tc.err)
			if v.Status != tc.status || v.Reason != tc.reason {
				t.Errorf("verdict %s (%s), want %s (%s)", v.Status, v.Reason, tc.status, tc.reason)
			}
			if !strings.Contains(sys.String(), tc.logMention) {
				t.Errorf("log says %q, want it to contain %q", sys.String(), tc.logMention)
			}
		})
	}
}
