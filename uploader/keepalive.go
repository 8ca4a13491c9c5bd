package uploader

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// keepAlive reports msg InProgress every interval until stop is called, so
// that a long upload keeps its request while a dead replica's request goes
// to another replica after AckWait.
func keepAlive(msg jetstream.Msg, every time.Duration, log zerolog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					// Nothing to do but try again next tick: if the server
					// never hears, the request is redelivered, which is safe.
					log.Debug().Err(err).Msg("report request in progress")
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
