package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/identifiers"
)

// Config says which containerd to use and where the task FIFOs go.
type Config struct {
	Address   string // containerd socket, default "/run/containerd/containerd.sock"
	Namespace string // containerd namespace, default "ejecta"
	FIFODir   string // directory for the task's FIFOs (created; removable on cleanup), default "/run/ejecta/fifo"
}

const (
	defaultAddress   = "/run/containerd/containerd.sock"
	defaultNamespace = "ejecta"
	defaultFIFODir   = "/run/ejecta/fifo"

	// connectTimeout bounds the dial when ctx has no earlier deadline: the
	// containerd client dials with its own timeout, not with a context.
	connectTimeout = 10 * time.Second
)

// Containerd runs tasks as containers of one containerd namespace. It is safe
// for concurrent use; each Run is its own container.
type Containerd struct {
	client    *containerd.Client
	namespace string
	fifoDir   string
}

// New connects to containerd and checks that it answers.
func New(ctx context.Context, cfg Config) (*Containerd, error) {
	if cfg.Address == "" {
		cfg.Address = defaultAddress
	}
	if cfg.Namespace == "" {
		cfg.Namespace = defaultNamespace
	}
	if cfg.FIFODir == "" {
		cfg.FIFODir = defaultFIFODir
	}
	if err := identifiers.Validate(cfg.Namespace); err != nil {
		return nil, fmt.Errorf("sandbox: Config.Namespace: %w", err)
	}
	if !filepath.IsAbs(cfg.FIFODir) {
		return nil, fmt.Errorf("sandbox: Config.FIFODir %q: want an absolute path", cfg.FIFODir)
	}
	if err := os.MkdirAll(cfg.FIFODir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: Config.FIFODir: %w", err)
	}

	timeout := connectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	client, err := containerd.New(cfg.Address,
		containerd.WithDefaultNamespace(cfg.Namespace),
		containerd.WithTimeout(timeout),
	)
	if err != nil {
		return nil, fmt.Errorf("sandbox: connect to containerd at %s: %w", cfg.Address, err)
	}
	if _, err := client.Version(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("sandbox: containerd at %s: version: %w", cfg.Address, err)
	}
	return &Containerd{client: client, namespace: cfg.Namespace, fifoDir: cfg.FIFODir}, nil
}

// Close closes the connection to containerd. Runs in progress fail.
func (c *Containerd) Close() error {
	return c.client.Close()
}
