package streams_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/streams"
)

// What a component publishes under its own name (results, dead letters)
// goes out under the user its connection authenticates as, however it was
// given: the only name the server lets it use.
func TestSenderIsTheConnectionsUser(t *testing.T) {
	for _, c := range []struct {
		name string
		opts nats.Options
		want string
	}{
		{"user option", nats.Options{User: "builder-host-a", Url: "nats://127.0.0.1:4222"}, "builder-host-a"},
		{"user in the URL", nats.Options{Url: "nats://builder-host-b:pw@127.0.0.1:4222"}, "builder-host-b"},
		{"user in a server URL", nats.Options{Servers: []string{"nats://h1:4222", "nats://builder:pw@h2:4222"}}, "builder"},
		{"no user", nats.Options{Url: "nats://127.0.0.1:4222"}, streams.AnonymousSender},
		{"a user of another setup", nats.Options{User: "alice"}, streams.AnonymousSender},
	} {
		if got := streams.Sender(&nats.Conn{Opts: c.opts}); got != c.want {
			t.Errorf("%s: sender %q, want %q", c.name, got, c.want)
		}
	}
}
