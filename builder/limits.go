package builder

import (
	"github.com/ejecta-build/ejecta/streams"
)

// limits are what one attempt runs under: the job's own, where its
// experiment set them, else the builder's defaults.
type limits struct {
	memoryBytes int64
	timeout     durationText
	noOutput    durationText
	tmpBytes    int64
}

func (b *Builder) limits(j *streams.Job) limits {
	l := limits{memoryBytes: b.cfg.MemoryBytes, timeout: durationText(b.cfg.Timeout), noOutput: durationText(b.cfg.NoOutputTimeout), tmpBytes: b.cfg.TmpBytes}
	if j.MemoryBytes > 0 {
		l.memoryBytes = j.MemoryBytes
	}
	if j.Timeout > 0 {
		l.timeout = durationText(j.Timeout)
	}
	if j.TmpBytes > 0 {
		l.tmpBytes = j.TmpBytes
	}
	if j.NoOutputTimeout > 0 {
		l.noOutput = durationText(j.NoOutputTimeout)
	}
	return l
}
