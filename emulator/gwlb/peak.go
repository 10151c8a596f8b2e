package gwlb

import (
	"sync"
	"time"
)

// peakWindow is CloudWatch's window for PeakBytesPerSecond and
// PeakPacketsPerSecond: the highest 10-second average (spec §7.1).
const peakWindow = 10 * time.Second

// peaks tracks the highest windowed byte and packet rates from samples of
// the node's running totals.
type peaks struct {
	mu      sync.Mutex
	samples []sample // oldest first, spanning at most one window back
	bytes   float64  // peak bytes per second
	packets float64  // peak packets per second
}

type sample struct {
	at             time.Time
	bytes, packets uint64
}

// add records the totals at lab time now and updates the peaks with the
// average rate over the last window (or over the last interval between
// samples, when samples are further apart than a window).
func (p *peaks) add(now time.Time, bytes, packets uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples = append(p.samples, sample{now, bytes, packets})
	// Keep the newest sample at or before now-window, and all after it.
	for len(p.samples) > 2 && !p.samples[1].at.After(now.Add(-peakWindow)) {
		p.samples = p.samples[1:]
	}
	if len(p.samples) < 2 {
		return
	}
	first := p.samples[0]
	secs := now.Sub(first.at).Seconds()
	if secs <= 0 {
		return
	}
	if span := now.Sub(first.at); span > peakWindow && len(p.samples) > 2 {
		first = p.samples[1]
		secs = now.Sub(first.at).Seconds()
	}
	p.bytes = max(p.bytes, float64(bytes-first.bytes)/secs)
	p.packets = max(p.packets, float64(packets-first.packets)/secs)
}

func (p *peaks) get() (bytes, packets float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes, p.packets
}
