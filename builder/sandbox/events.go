package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/events"
	"github.com/containerd/typeurl/v2"
)

// Event topics a run watches; the filters select the run's own container.
const (
	topicTaskOOM  = "/tasks/oom"
	topicTaskExit = "/tasks/exit"
	// topicSubscribed is this package's own: a run publishes an event on
	// it until its subscription delivers it. containerd's client opens a
	// subscription in the background, and the server delivers no event
	// published before it has the subscription: the run's container is
	// created only once it is live.
	topicSubscribed = "/ejecta/sandbox/subscribed"
)

const (
	// subscribeTimeout bounds the wait for the subscription to deliver
	// the run's own event (topicSubscribed).
	subscribeTimeout = 10 * time.Second
	// republishMax bounds the pause between two publishes of that event.
	republishMax = 500 * time.Millisecond
	// exitEventTimeout bounds the wait for the exit event after Wait has
	// returned; it normally arrives within milliseconds.
	exitEventTimeout = 2 * time.Second
)

// watch follows one container's events, counting OOM kills.
type watch struct {
	id      string // the container's, and its init process's
	cancel  context.CancelFunc
	publish func(context.Context) error // publishes the run's topicSubscribed event
	live    chan struct{}               // closed on the run's topicSubscribed event
	done    chan struct{}               // closed when the subscription has ended
	err     error                       // why it ended; read after done
	ooms    atomic.Int64

	mu sync.Mutex
	// exits holds a channel per process (the init, keyed by the
	// container's ID, and each exec'd one by its exec ID), closed on its
	// /tasks/exit.
	exits map[string]chan struct{}
}

// watchEvents subscribes to id's events in c's namespace. The subscription
// lives until stop, independent of the caller's context, so an OOM during
// the kill that follows a cancellation is still seen.
func (c *Containerd) watchEvents(ctx context.Context, id string) *watch {
	ctx, cancel := context.WithCancel(ctx)
	sel := fmt.Sprintf(`namespace==%q`, c.namespace)
	ch, errs := c.client.Subscribe(ctx,
		fmt.Sprintf(`topic==%q,%s,event.id==%q`, topicSubscribed, sel, id),
		fmt.Sprintf(`topic==%q,%s,event.container_id==%q`, topicTaskOOM, sel, id),
		fmt.Sprintf(`topic==%q,%s,event.container_id==%q`, topicTaskExit, sel, id),
	)
	w := &watch{
		id:     id,
		cancel: cancel,
		publish: func(ctx context.Context) error {
			// The event's type is containerd's, which its filters can
			// read the id of; the topic says it is not a container's.
			return c.client.EventService().Publish(ctx, topicSubscribed, &apievents.ContainerCreate{ID: id})
		},
		live:  make(chan struct{}),
		done:  make(chan struct{}),
		exits: map[string]chan struct{}{},
	}
	go w.loop(ch, errs)
	return w
}

func (w *watch) loop(ch <-chan *events.Envelope, errs <-chan error) {
	defer close(w.done)
	for {
		select {
		case env := <-ch:
			switch env.Topic {
			case topicSubscribed:
				closeOnce(w.live)
			case topicTaskOOM:
				w.ooms.Add(1)
			case topicTaskExit:
				if id, ok := exitedID(env); ok {
					closeOnce(w.exited(id))
				}
			}
		case err := <-errs:
			if err == nil {
				err = errors.New("event subscription closed")
			}
			w.err = err
			return
		}
	}
}

// ready waits until the subscription is live, publishing the run's own
// event until it comes back: from then on no event of the container can
// be missed. Call it before the container is created.
func (w *watch) ready(ctx context.Context) error {
	deadline := time.NewTimer(subscribeTimeout)
	defer deadline.Stop()
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, republishMax) {
		if err := w.publish(ctx); err != nil {
			return fmt.Errorf("publish %s: %w", topicSubscribed, err)
		}
		select {
		case <-w.live:
			return nil
		case <-w.done:
			return fmt.Errorf("event subscription: %w", w.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("no %s event after %s", topicSubscribed, subscribeTimeout)
		case <-time.After(pause):
		}
	}
}

// exitedID is the process ID (exec ID, or the container's for its init)
// of a /tasks/exit event.
func exitedID(env *events.Envelope) (string, bool) {
	v, err := typeurl.UnmarshalAny(env.Event)
	if err != nil {
		return "", false
	}
	e, ok := v.(*apievents.TaskExit)
	if !ok {
		return "", false
	}
	return e.ID, true
}

// exited is the channel closed on process id's exit event.
func (w *watch) exited(id string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.exits[id]
	if !ok {
		c = make(chan struct{})
		w.exits[id] = c
	}
	return c
}

// oomKilled reports whether the container saw an OOM kill. Called after the
// task has exited, it first waits for the exit event, which the shim
// publishes after any OOM event of the same task.
func (w *watch) oomKilled() bool {
	return w.oomsSince(0, w.id)
}

// oomsSince reports whether the container saw an OOM kill since the count
// was before: for a process exec'd into a running container, whose memory
// cgroup it shares with the steps before it. Called after process id has
// exited, it first waits for its exit event, as oomKilled does.
func (w *watch) oomsSince(before int64, id string) bool {
	select {
	case <-w.exited(id):
	case <-w.done:
	case <-time.After(exitEventTimeout):
	}
	return w.ooms.Load() > before
}

// stop ends the subscription.
func (w *watch) stop() {
	w.cancel()
	<-w.done
}

// closeOnce closes c unless it is closed already; only loop closes these.
func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}
