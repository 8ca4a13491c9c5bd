package builder

import (
	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/streams"
)

// limits are what one attempt runs under: the job's own, where its
// experiment set them, else the builder's defaults.
func (b *Builder) limits(j *streams.Job) cargo.Limits {
	l := cargo.Limits{MemoryBytes: b.cfg.MemoryBytes, Timeout: cargo.Duration(b.cfg.Timeout), NoOutput: cargo.Duration(b.cfg.NoOutputTimeout), TmpBytes: b.cfg.TmpBytes}
	if j.MemoryBytes > 0 {
		l.MemoryBytes = j.MemoryBytes
	}
	if j.Timeout > 0 {
		l.Timeout = cargo.Duration(j.Timeout)
	}
	if j.TmpBytes > 0 {
		l.TmpBytes = j.TmpBytes
	}
	if j.NoOutputTimeout > 0 {
		l.NoOutput = cargo.Duration(j.NoOutputTimeout)
	}
	return l
}
