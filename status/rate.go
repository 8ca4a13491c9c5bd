package status

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// RateWindow is how far back the rate of finished builds is measured: the
// recent pace says more of what is left than the whole run's average, and
// two builds that finished in the first second say nothing of the next
// hour.
const RateWindow = 5 * time.Minute

// minRateSpan is the shortest span a rate is measured over: before an
// experiment is this old there is no rate, nor an ETA.
const minRateSpan = 10 * time.Second

// recentResults counts the results of toolchain tc of experiment exp the
// results stream stored since since: an ordered consumer starting there
// says how many it has pending without delivering any.
func recentResults(ctx context.Context, js jetstream.JetStream, exp, tc string, since time.Time) (int, error) {
	cons, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.ToolchainResultsFilter(exp, tc)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy, OptStartTime: &since, HeadersOnly: true,
	})
	if err != nil {
		return 0, fmt.Errorf("read the recent results of %s: %w", exp, err)
	}
	info, err := cons.Info(ctx)
	if name := cons.CachedInfo(); name != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = js.DeleteConsumer(dctx, streams.ResultsStream, name.Name)
		cancel()
	}
	if err != nil {
		return 0, fmt.Errorf("read the recent results of %s: %w", exp, err)
	}
	return int(info.NumPending), nil
}

// windowStart is where the rate window of an experiment created at created
// starts at now, and whether it is long enough to measure a rate over.
func windowStart(now, created time.Time) (time.Time, bool) {
	start := now.Add(-RateWindow)
	if created.After(start) {
		start = created
	}
	return start, now.Sub(start) >= minRateSpan
}

// rateOver is n builds over span, per minute, rounded to a tenth, and the
// seconds left builds take at that rate (0 when there is no rate).
func rateOver(n int, span time.Duration, left int) (perMinute float64, etaSeconds int64) {
	if n <= 0 || span <= 0 {
		return 0, 0
	}
	perMinute = math.Round(float64(n)/span.Minutes()*10) / 10
	if perMinute <= 0 {
		return 0, 0
	}
	return perMinute, int64(math.Round(float64(max(left, 0)) / perMinute * 60))
}
