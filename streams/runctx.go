package streams

import "context"

// RunContext returns a context that ends when ctx ends but carries no
// deadline, for a component's Run to pass to its JetStream calls.
//
// The JetStream client bounds an API request by its default timeout only
// when the request's context has no deadline. A Run context may well have
// one (a test's, a run limited in time): a request whose answer was lost
// with a server killed in a cluster would then wait until that deadline,
// freezing an upload or a slot for as long. Without the deadline every
// request is bounded, and ending ctx still stops everything.
func RunContext(ctx context.Context) (context.Context, context.CancelFunc) {
	run, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return run, func() {
		stop()
		cancel(context.Canceled)
	}
}
