package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ejecta-build/ejecta/status"
)

// A status watcher shows an experiment's progress until it is finished:
// on a terminal one display redrawn in place (a bar per toolchain, the
// class counts, the confirmations in flight); piped, a line per change;
// with --output json, a JSON document per change, one per line.
type statusWatcher interface {
	// show is called with every status read; changed says whether
	// anything but the rate and ETA differs from the last one.
	show(st status.Status, changed bool) error
	// close ends the display, the experiment finished or not.
	close() error
}

// watchStatus polls experiment name's status every interval and shows it
// on out until the experiment is finished or ctx ends.
func watchStatus(ctx context.Context, js jetstream.JetStream, name, format string, out io.Writer, interval time.Duration) error {
	var w statusWatcher
	switch {
	case format == "json":
		w = &jsonLines{out: out}
	case isTerminal(out):
		w = newLiveDisplay(out)
	default:
		w = &changeLines{out: out}
	}
	last := ""
	for {
		st, err := status.Get(ctx, js, name)
		if errors.Is(err, status.ErrUnknownExperiment) {
			w.close()
			return badInput(err)
		}
		if err != nil {
			w.close()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		key := changeKey(st)
		if err := w.show(st, key != last); err != nil {
			w.close()
			return err
		}
		last = key
		if st.Finished() {
			return w.close()
		}
		select {
		case <-ctx.Done():
			w.close()
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// changeKey is what of st a change is told by: everything but the rate,
// the ETA and when the report and results.json were written.
func changeKey(st status.Status) string {
	st.RatePerMinute, st.ETASeconds, st.ReportUpdated, st.ResultsUpdated = 0, 0, time.Time{}, time.Time{}
	for i := range st.Toolchains {
		st.Toolchains[i].RatePerMinute, st.Toolchains[i].ETASeconds = 0, 0
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// jsonLines writes a JSON document per change, one per line.
type jsonLines struct{ out io.Writer }

func (j *jsonLines) show(st status.Status, changed bool) error {
	if !changed {
		return nil
	}
	return json.NewEncoder(j.out).Encode(st)
}

func (j *jsonLines) close() error { return nil }

// changeLines writes a line per change, for a pipe or a file.
type changeLines struct {
	out     io.Writer
	started bool
}

func (c *changeLines) show(st status.Status, changed bool) error {
	if !c.started {
		c.started = true
		if _, err := fmt.Fprintln(c.out, statusHeader(st)); err != nil {
			return err
		}
	}
	if !changed {
		return nil
	}
	_, err := fmt.Fprintf(c.out, "%s %s\n", time.Now().Format(time.TimeOnly), statusLine(st))
	return err
}

func (c *changeLines) close() error { return nil }

// statusHeader is what does not change about an experiment.
func statusHeader(st status.Status) string {
	e := st.Experiment
	return printable(fmt.Sprintf("experiment %s: %s, %s, %d crates", e.Name, strings.Join(e.Toolchains, " vs "), e.Mode, e.Crates))
}

// statusLine is st in one line: each toolchain's builds, the rate, the
// classes and what else is in flight.
func statusLine(st status.Status) string {
	var parts []string
	for _, t := range st.Toolchains {
		parts = append(parts, fmt.Sprintf("%s %d/%d done, %d running, %d queued", t.Toolchain, t.Done, t.Total, t.Running, t.Queued))
	}
	if r := rateText(st.RatePerMinute, st.ETASeconds, st.Done < st.Total); r != "" {
		parts = append(parts, r)
	}
	if c := classText(st); c != "" {
		parts = append(parts, c)
	}
	if extra := inFlightText(st); extra != "" {
		parts = append(parts, extra)
	}
	return printable(strings.Join(parts, " | "))
}

// rateText is a rate and what is left at it; "" while there is none.
func rateText(perMinute float64, etaSeconds int64, left bool) string {
	if perMinute <= 0 {
		return ""
	}
	s := fmt.Sprintf("%.1f/min", perMinute)
	if left {
		s += fmt.Sprintf(", about %s left", (time.Duration(etaSeconds) * time.Second).String())
	}
	return s
}

// classText is the class counts, in name order.
func classText(st status.Status) string {
	keys := make([]string, 0, len(st.Classes))
	for k := range st.Classes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, st.Classes[k])
	}
	return b.String()
}

// inFlightText is what is still coming besides the builds: confirmation
// re-runs and dead letters; the experiment's state when it is aborted.
func inFlightText(st status.Status) string {
	var parts []string
	if st.Confirming > 0 {
		parts = append(parts, fmt.Sprintf("confirming %d regression%s", st.Confirming, plural(st.Confirming)))
	}
	if st.DeadLetters > 0 {
		parts = append(parts, fmt.Sprintf("%d dead letter%s", st.DeadLetters, plural(st.DeadLetters)))
	}
	if st.Experiment.State != "" {
		parts = append(parts, string(st.Experiment.State))
	}
	return strings.Join(parts, ", ")
}

// liveDisplay redraws one display in place on a terminal: a bar per
// toolchain with its builds done, running and queued and its rate and
// ETA, then a line of class counts and what is in flight.
type liveDisplay struct {
	out  io.Writer
	p    *mpb.Progress
	bars []*mpb.Bar
	info *mpb.Bar

	mu sync.Mutex
	st status.Status // the latest, read by the decorators
}

func newLiveDisplay(out io.Writer) *liveDisplay {
	return &liveDisplay{out: out}
}

// current is the latest status, for the decorators.
func (d *liveDisplay) current() status.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

func (d *liveDisplay) show(st status.Status, _ bool) error {
	d.mu.Lock()
	d.st = st
	d.mu.Unlock()
	if d.p == nil {
		d.start(st)
	}
	for i, t := range st.Toolchains {
		if i < len(d.bars) {
			d.bars[i].SetTotal(int64(t.Total), false)
			d.bars[i].SetCurrent(int64(t.Done))
		}
	}
	return nil
}

// start prints the header and creates the bars, one per toolchain, with
// no total yet, so that none completes before the experiment does.
func (d *liveDisplay) start(st status.Status) {
	fmt.Fprintln(d.out, statusHeader(st))
	d.p = mpb.New(mpb.WithOutput(d.out), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithWidth(40))
	width := 0
	for _, t := range st.Toolchains {
		width = max(width, len(printable(t.Toolchain)))
	}
	for i, t := range st.Toolchains {
		d.bars = append(d.bars, d.p.New(0, mpb.BarStyle().Lbound("[").Rbound("]"),
			mpb.PrependDecorators(decor.Name(printable(t.Toolchain), decor.WC{W: width + 1, C: decor.DindentRight})),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return d.toolchainText(i) })),
		))
	}
	d.info = d.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return d.infoText() })))
}

// toolchainText is what follows toolchain i's bar.
func (d *liveDisplay) toolchainText(i int) string {
	st := d.current()
	if i >= len(st.Toolchains) {
		return ""
	}
	t := st.Toolchains[i]
	s := fmt.Sprintf("%d/%d done  %d running  %d queued", t.Done, t.Total, t.Running, t.Queued)
	if r := rateText(t.RatePerMinute, t.ETASeconds, t.Done < t.Total); r != "" {
		s += "  " + r
	}
	return s
}

// infoText is the line below the bars.
func (d *liveDisplay) infoText() string {
	st := d.current()
	parts := []string{}
	if c := classText(st); c != "" {
		parts = append(parts, c)
	}
	if extra := inFlightText(st); extra != "" {
		parts = append(parts, extra)
	}
	if len(parts) == 0 {
		return "no crate compared yet"
	}
	return printable(strings.Join(parts, " | "))
}

// close completes every bar and waits for the last redraw.
func (d *liveDisplay) close() error {
	if d.p == nil {
		return nil
	}
	for _, b := range append(slices.Clone(d.bars), d.info) {
		b.SetTotal(-1, true)
	}
	d.p.Wait()
	d.p = nil
	return nil
}
