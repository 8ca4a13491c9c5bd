package uploader

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// zstdWindow bounds the compressor's memory. Logs repeat themselves within
// a few hundred KiB (the same warning for every crate); a larger window
// gains little and costs memory per log in flight.
const zstdWindow = 1 << 20

// encoderPool keeps the zstd encoders of logs stored before, for the next
// logs: an encoder's window and tables are allocated once, not per log,
// which with many small logs was most of what storing one allocated. At
// most max encoders wait in it (one per upload slot, Config.Concurrency,
// is all that are ever in use at once); one given back to a full pool is
// left to the collector.
type encoderPool struct {
	idle chan *zstd.Encoder
}

func newEncoderPool(max int) *encoderPool {
	return &encoderPool{idle: make(chan *zstd.Encoder, max)}
}

// get returns an encoder writing a new stream to w.
func (p *encoderPool) get(w io.Writer) (*zstd.Encoder, error) {
	select {
	case zw := <-p.idle:
		zw.Reset(w)
		return zw, nil
	default:
	}
	// Concurrency 1 keeps the encoder synchronous, with one window of
	// memory, instead of one per CPU.
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow),
		zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	return zw, nil
}

// put gives back zw, closed or not: whatever it was writing is given up.
func (p *encoderPool) put(zw *zstd.Encoder) {
	zw.Reset(io.Discard) // lets go of the log's writer
	select {
	case p.idle <- zw:
	default:
	}
}
