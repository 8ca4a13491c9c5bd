package buildlog

// InFlight is how many chunks p has published and not yet seen
// acknowledged.
func (p *Publisher) InFlight() int { return len(p.pending) }

// SetRefused puts chunks in flight as though the client had refused to
// send them (as after a lost connection), to be settled in their turn.
func (p *Publisher) SetRefused(chunks ...Chunk) {
	p.pending = p.pending[:0]
	for _, c := range chunks {
		p.pending = append(p.pending, inflight{chunk: c})
	}
}
