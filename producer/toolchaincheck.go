package producer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// checkToolchains refuses toolchains that no live builder has installed,
// naming those the live builders do have: such jobs would wait forever.
// With no builder live at all it cannot tell, and accepts with a warning:
// `ejecta up` starts its builder alongside, and in production experiments
// are often created before the builders start; the jobs wait on the
// queue meanwhile. Request.NoToolchainCheck skips the check (a toolchain
// about to be installed).
func (p *Producer) checkToolchains(ctx context.Context, tcs []string) (warning string, err error) {
	hbs, err := status.Builders(ctx, p.js)
	if err != nil {
		return "", fmt.Errorf("check toolchains: %w", err)
	}
	if len(hbs) == 0 {
		return fmt.Sprintf("no builder is live: toolchains %s not checked; the jobs wait until builders that have them start",
			strings.Join(tcs, ", ")), nil
	}
	var have []string
	for _, hb := range hbs {
		have = append(have, hb.Toolchains...)
	}
	slices.Sort(have)
	have = slices.Compact(have)
	for _, tc := range tcs {
		if !slices.ContainsFunc(have, func(installed string) bool { return streams.ToolchainProvides(installed, tc) }) {
			list := strings.Join(have, ", ")
			if list == "" {
				list = "none"
			}
			return "", invalid(fmt.Errorf("toolchains: no live builder has %q (%d live builders have: %s); install it on a builder, or pass --no-toolchain-check to queue the jobs anyway",
				tc, len(hbs), list))
		}
	}
	return "", nil
}
