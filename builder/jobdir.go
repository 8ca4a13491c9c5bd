package builder

import (
	"os"

	"github.com/rs/zerolog"
)

// removeJobDir removes a finished attempt's job dir in the background. A
// target dir holds thousands of files; removing them before the result is
// published and the next job is taken would leave the slot idle that long
// (issue 4: no idle gap over 100 ms between jobs). Job dirs never collide
// (jobDirName), and Run waits for every removal before it returns.
func (b *Builder) removeJobDir(dir string, log zerolog.Logger) {
	b.removals.Go(func() {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn().Err(err).Str("dir", dir).Msg("remove job dir")
		}
	})
}
