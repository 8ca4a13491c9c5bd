package measure

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// DelayProxy forwards TCP connections to a target, delivering every byte
// a delay after it arrived, in each direction: a network with latency but
// no bandwidth limit, between a client and a real server.
type DelayProxy struct {
	l      net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn // every connection, closed by Close
}

// StartDelayProxy listens on a free port of 127.0.0.1 and forwards to
// target with delay each way (a round trip gains twice delay).
func StartDelayProxy(target string, delay time.Duration) (*DelayProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start a delaying proxy to %s: %w", target, err)
	}
	p := &DelayProxy{l: l, target: target, delay: delay}
	p.wg.Go(p.serve)
	return p, nil
}

// Addr is the host:port clients connect to.
func (p *DelayProxy) Addr() string { return p.l.Addr().String() }

// Close stops listening, closes every connection and waits for the copies
// to end.
func (p *DelayProxy) Close() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *DelayProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() {
			defer c.Close()
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer s.Close()
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			var both sync.WaitGroup
			both.Go(func() { p.pipe(s, c) })
			both.Go(func() { p.pipe(c, s) })
			both.Wait()
		})
	}
}

// pipe copies src to dst, each read delivered delay after it was read.
// When either side ends, both connections are closed.
func (p *DelayProxy) pipe(dst, src net.Conn) {
	type piece struct {
		at   time.Time
		data []byte
	}
	q := make(chan piece, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- piece{time.Now().Add(p.delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for pc := range q {
		time.Sleep(time.Until(pc.at))
		if _, err := dst.Write(pc.data); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	for range q {
	}
}
