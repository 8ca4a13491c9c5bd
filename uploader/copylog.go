package uploader

import (
	"context"
	"io"

	"github.com/ejecta-build/ejecta/buildlog"
)

// copyLog reads the log on subj from LogsStream into w, from its first
// message to its end marker or where opts end it, checked on the way
// (buildlog.Reader: strictly, unless opts say Lenient). A log whose next
// message does not come for IdleTimeout fails. The reader returned says
// what was read (end marker, gaps, timestamps, sha256), error or not.
func (u *Uploader) copyLog(ctx context.Context, subj string, w io.Writer, opts ...buildlog.Option) (*buildlog.Reader, error) {
	opts = append([]buildlog.Option{buildlog.Idle(u.cfg.IdleTimeout), buildlog.ReadAhead(u.cfg.ReadAheadBytes)}, opts...)
	lr, err := buildlog.Open(ctx, u.js, subj, opts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := lr.Close(); err != nil {
			u.log.Debug().Err(err).Str("subject", subj).Msg("the server will expire the log's reader")
		}
	}()
	_, err = lr.WriteTo(w)
	return lr, err
}
