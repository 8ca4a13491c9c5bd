package store

import (
	"net"
	"sync"
	"testing"
	"time"
)

// delayProxy forwards TCP connections to target, delivering every byte
// delay after it arrived, in each direction: a network with latency but no
// bandwidth limit, between a client and a real server.
type delayProxy struct {
	l      net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn // every connection, closed when the test ends
}

func startDelayProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{l: l, target: target, delay: delay}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return l.Addr().String()
}

func (p *delayProxy) serve() {
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
func (p *delayProxy) pipe(dst, src net.Conn) {
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
