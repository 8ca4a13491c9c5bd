package craterview

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// experiment is crater's Experiment as its config.json holds it. Fields
// ejecta has no value for are crater's empty ones.
type experiment struct {
	Name            string       `json:"name"`
	Toolchains      [2]toolchain `json:"toolchains"`
	Mode            string       `json:"mode"`
	CapLints        string       `json:"cap_lints"`
	Priority        int          `json:"priority"`
	CreatedAt       time.Time    `json:"created_at"`
	StartedAt       *time.Time   `json:"started_at"`
	CompletedAt     *time.Time   `json:"completed_at"`
	GitHubIssue     *struct{}    `json:"github_issue"`
	Status          string       `json:"status"`
	AssignedTo      *string      `json:"assigned_to"`
	ReportURL       *string      `json:"report_url"`
	IgnoreBlacklist bool         `json:"ignore_blacklist"`
	Requirement     *string      `json:"requirement"`
}

// toolchain is crater's Toolchain. ejecta's toolchains are rustup names (or
// toolchain directories), so each is a dist toolchain of that name, without
// crater's flags or patches.
type toolchain struct {
	Source       toolchainSource `json:"source"`
	Target       *string         `json:"target"`
	Rustflags    *string         `json:"rustflags"`
	Rustdocflags *string         `json:"rustdocflags"`
	Cargoflags   *string         `json:"cargoflags"`
	CITry        bool            `json:"ci_try"`
	Patches      []struct{}      `json:"patches"`
}

// toolchainSource is rustwide's Toolchain, internally tagged.
type toolchainSource struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Ended says whether an experiment gets no more results, and since when
// (zero: not known).
type Ended struct {
	Ended bool
	At    time.Time
}

// Config is crater's config.json for the experiment rec.
//
// started_at is when the experiment was created: ejecta publishes every job
// then, and builders take them at once; crater's queue of experiments
// waiting for build machines has no counterpart. An experiment is running until it
// has ended, then completed: finished, or aborted, since crater has no
// aborted status and an aborted experiment gets no more results, which is
// what completed tells a tool.
func Config(rec *streams.Experiment, end Ended) ([]byte, error) {
	created := rec.CreatedAt.UTC()
	c := experiment{
		Name:      rec.Name,
		Mode:      string(rec.Mode),
		CapLints:  rec.CapLints,
		Priority:  rec.Priority,
		CreatedAt: created,
		StartedAt: &created,
		Status:    "running",
	}
	if c.CapLints == "" {
		// Lints not capped: capping at forbid, the highest level, changes
		// nothing, and crater wants a level.
		c.CapLints = "forbid"
	}
	for i := range c.Toolchains {
		if i < len(rec.Toolchains) {
			c.Toolchains[i] = toolchain{Source: toolchainSource{"dist", rec.Toolchains[i]}, Patches: []struct{}{}}
		}
	}
	if end.Ended {
		c.Status = "completed"
		if !end.At.IsZero() {
			at := end.At.UTC()
			c.CompletedAt = &at
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode crater config.json of %s: %w", rec.Name, err)
	}
	return b, nil
}
