package buildlog

import "time"

// InFlight is how many chunks p has published and not yet seen
// acknowledged.
func (p *Publisher) InFlight() int { return len(p.pending) }

// Backdate makes every chunk in flight look sent d earlier.
func (p *Publisher) Backdate(d time.Duration) {
	for i := range p.pending {
		p.pending[i].sent = p.pending[i].sent.Add(-d)
	}
}

// Repairs is how many times p republished its log from a failed chunk.
func (p *Publisher) Repairs() int { return p.round }

// SetRefused puts chunks in flight as though the client had refused to
// send them (as after a lost connection), to be settled in their turn.
func (p *Publisher) SetRefused(chunks ...Chunk) {
	p.pending = p.pending[:0]
	for _, c := range chunks {
		p.pending = append(p.pending, inflight{chunk: c})
	}
}
