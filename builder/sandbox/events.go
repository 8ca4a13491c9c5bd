package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/events"
)

// Event topics a run watches; the filters select the run's own container.
const (
	topicContainerCreate = "/containers/create"
	topicTaskOOM         = "/tasks/oom"
	topicTaskExit        = "/tasks/exit"
)

const (
	// subscribeTimeout bounds the wait for the container's own create
	// event, the proof that the subscription is live.
	subscribeTimeout = 10 * time.Second
	// exitEventTimeout bounds the wait for the exit event after Wait has
	// returned; it normally arrives within milliseconds.
	exitEventTimeout = 2 * time.Second
)

// watch follows one container's events, counting OOM kills.
type watch struct {
	cancel  context.CancelFunc
	created chan struct{} // closed on the container's /containers/create
	exited  chan struct{} // closed on its init process's /tasks/exit
	done    chan struct{} // closed when the subscription has ended
	err     error         // why it ended; read after done
	ooms    atomic.Int64
}

// watchEvents subscribes to id's events in c's namespace. The subscription
// lives until stop, independent of the caller's context, so an OOM during
// the kill that follows a cancellation is still seen.
func (c *Containerd) watchEvents(ctx context.Context, id string) *watch {
	ctx, cancel := context.WithCancel(ctx)
	sel := fmt.Sprintf(`namespace==%q`, c.namespace)
	ch, errs := c.client.Subscribe(ctx,
		fmt.Sprintf(`topic==%q,%s,event.id==%q`, topicContainerCreate, sel, id),
		fmt.Sprintf(`topic==%q,%s,event.container_id==%q`, topicTaskOOM, sel, id),
		fmt.Sprintf(`topic==%q,%s,event.container_id==%q,event.id==%q`, topicTaskExit, sel, id, id),
	)
	w := &watch{
		cancel:  cancel,
		created: make(chan struct{}),
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
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
			case topicContainerCreate:
				closeOnce(w.created)
			case topicTaskOOM:
				w.ooms.Add(1)
			case topicTaskExit:
				closeOnce(w.exited)
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

// ready waits until the subscription has delivered the container's create
// event: from then on no event of the task can be missed.
func (w *watch) ready(ctx context.Context) error {
	select {
	case <-w.created:
		return nil
	case <-w.done:
		return fmt.Errorf("event subscription: %w", w.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(subscribeTimeout):
		return fmt.Errorf("no %s event after %s", topicContainerCreate, subscribeTimeout)
	}
}

// oomKilled reports whether the container saw an OOM kill. Called after the
// task has exited, it first waits for the exit event, which the shim
// publishes after any OOM event of the same task.
func (w *watch) oomKilled() bool {
	select {
	case <-w.exited:
	case <-w.done:
	case <-time.After(exitEventTimeout):
	}
	return w.ooms.Load() > 0
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
