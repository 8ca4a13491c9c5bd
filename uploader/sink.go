package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/klauspost/compress/zstd"
)

// Content types of the stored objects.
const (
	rawContentType   = "application/zstd"
	metaContentType  = "application/json"
	timesContentType = "text/plain; charset=utf-8"
)

// logSink receives a log's bytes once and turns them, in the same pass,
// into every stored object: the raw bytes zstd-compressed and streamed into
// the store, optionally the plain bytes streamed likewise, the HTML page
// staged on disk, and the counts for the metadata. Their sha256 is not
// the sink's: the reader that checks the log against its end marker
// hashes every byte it hands on, once (buildlog.Reader.SHA256). Nothing in
// the sink grows with the log.
type logSink struct {
	ctx   context.Context
	st    store.Store
	key   streams.BuildKey
	att   int
	exp   string // the experiment's key prefix
	raw   *store.PutStream
	zw    *zstd.Encoder // from encoders, given back by abort or commit
	encs  *encoderPool
	plain *store.PutStream // nil with Config.NoPlainLog
	// times streams the times index (streams.LogTime); nil until a chunk
	// comes with a time. lastAt is the last entry's time, in ms.
	times  *store.PutStream
	lastAt int64
	line   []byte
	page   *page
	bytes  uint64
	lines  uint64
	lastNL bool
}

func (u *Uploader) newSink(ctx context.Context, k streams.BuildKey, attempt int) (*logSink, error) {
	s := &logSink{ctx: ctx, st: u.st, key: k, att: attempt, exp: streams.ExperimentPrefix(k.Experiment), encs: u.encoders}
	title := fmt.Sprintf("%s %s on %s, attempt %d (%s)", k.Crate, k.Version, k.Toolchain, attempt, k.Experiment)
	s.page = newPage(u.cfg.TempDir, u.cfg.PageHeadBytes, u.cfg.PageTailBytes, title, linksFor(k, attempt, !u.cfg.NoPlainLog))
	s.raw = store.StartPut(ctx, u.st, s.exp+streams.LogRawKey(k, attempt), rawContentType)
	var err error
	if s.zw, err = u.encoders.get(s.raw); err != nil {
		s.abort(err)
		return nil, err
	}
	if !u.cfg.NoPlainLog {
		s.plain = store.StartPut(ctx, u.st, s.exp+streams.LogObjectKey(k, attempt), logContentType)
	}
	return s, nil
}

// Write passes b to every object. An error means the store refused a
// stream; the log must then be abandoned (abort).
func (s *logSink) Write(b []byte) (int, error) {
	if _, err := s.zw.Write(b); err != nil {
		return 0, fmt.Errorf("store %s: %w", s.st.Location(s.exp+streams.LogRawKey(s.key, s.att)), err)
	}
	if s.plain != nil {
		if _, err := s.plain.Write(b); err != nil {
			return 0, fmt.Errorf("store %s: %w", s.st.Location(s.exp+streams.LogObjectKey(s.key, s.att)), err)
		}
	}
	s.page.Write(b)
	s.bytes += uint64(len(b))
	s.lines += uint64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 {
		s.lastNL = b[len(b)-1] == '\n'
	}
	return len(b), nil
}

// WriteTimed is Write for a chunk written at at: where the time changes, an
// entry of the times index records it.
func (s *logSink) WriteTimed(b []byte, at time.Time) (int, error) {
	if ms := at.UnixMilli(); !at.IsZero() && len(b) > 0 && (s.times == nil || ms != s.lastAt) {
		if s.times == nil {
			s.times = store.StartPut(s.ctx, s.st, s.exp+streams.LogTimesKey(s.key, s.att), timesContentType)
		}
		s.line = streams.AppendLogTime(s.line[:0], streams.LogTime{Offset: s.bytes, At: at})
		if _, err := s.times.Write(s.line); err != nil {
			return 0, fmt.Errorf("store %s: %w", s.st.Location(s.exp+streams.LogTimesKey(s.key, s.att)), err)
		}
		s.lastAt = ms
	}
	return s.Write(b)
}

// abort gives every object up: none of them appears.
func (s *logSink) abort(cause error) {
	if s.zw != nil {
		s.encs.put(s.zw)
	}
	if s.times != nil {
		s.times.Finish(s.ctx, cause)
	}
	s.raw.Finish(s.ctx, cause)
	if s.plain != nil {
		s.plain.Finish(s.ctx, cause)
	}
	s.page.discard()
}

// commit completes every object, the metadata last, so that a reader (or a
// later delivery of the request) that finds the metadata finds the rest.
// meta carries what the sink cannot know (outcome, timestamps, gaps, and
// the sha256 of the bytes written).
func (s *logSink) commit(meta streams.LogMeta) error {
	defer s.page.discard()
	errZ := s.zw.Close()
	s.encs.put(s.zw)
	if errZ != nil {
		errZ = fmt.Errorf("compress: %w", errZ)
	}
	errs := []error{errZ, s.raw.Finish(s.ctx, errZ)}
	if s.plain != nil {
		errs = append(errs, s.plain.Finish(s.ctx, errZ))
	}
	if s.times != nil {
		errs = append(errs, s.times.Finish(s.ctx, errZ))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store log: %w", err)
	}
	if s.bytes > 0 && !s.lastNL {
		s.lines++ // an unfinished last line counts
	}
	meta.V, meta.BuildKey, meta.Attempt = streams.LogMetaVersion, s.key, s.att
	meta.Bytes = s.bytes
	meta.Lines = s.lines
	meta.Raw, meta.Page = streams.LogRawKey(s.key, s.att), streams.LogPageKey(s.key, s.att)
	if s.plain != nil {
		meta.Plain = streams.LogObjectKey(s.key, s.att)
	}
	if s.times != nil {
		meta.Times = streams.LogTimesKey(s.key, s.att)
	}
	meta.PageTruncated = s.page.truncated()
	meta.StoredAt = time.Now().UTC()

	f, size, err := s.page.finish(pageNote(meta))
	if err != nil {
		return err
	}
	// The page is a small object of known size: a single PUT. Known sizes
	// let it run on a context of its own bounded by finishTimeout.
	pctx, cancel := finishing(s.ctx)
	defer cancel()
	if err := s.st.Put(pctx, s.exp+meta.Page, f, size, pageContentType); err != nil {
		return fmt.Errorf("store log page: %w", err)
	}
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encode log metadata: %w", err)
	}
	if err := s.st.Put(pctx, s.exp+streams.LogMetaKey(s.key, s.att), bytes.NewReader(data), int64(len(data)), metaContentType); err != nil {
		return fmt.Errorf("store log metadata: %w", err)
	}
	return nil
}

// pageNote is the line at the foot of a log page.
func pageNote(m streams.LogMeta) string {
	var s string
	switch {
	case m.Abandoned:
		s = "Abandoned attempt: the log ended without its end marker (" + m.AbandonedReason + ")."
	default:
		s = fmt.Sprintf("Finished: %s, exit code %d.", m.Status, m.ExitCode)
	}
	s += fmt.Sprintf(" %d bytes, %d lines, sha256 %s.", m.Bytes, m.Lines, m.SHA256)
	if len(m.Gaps) > 0 {
		s += fmt.Sprintf(" %d gap(s): chunks were missing from the stream, marked in the log.", len(m.Gaps))
	}
	return s
}
