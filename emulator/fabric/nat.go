package fabric

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"net/netip"
	"sync"
	"time"
)

// natTimeouts are a NAT gateway's idle timeouts (AWS: 350 s for TCP; UDP and
// ICMP entries are kept here for 120 s, like GWLB's non-TCP flows).
type natTimeouts struct {
	tcp, other time.Duration
}

var defaultNATTimeouts = natTimeouts{tcp: 350 * time.Second, other: 120 * time.Second}

// natKey is one side of a translated connection.
type natKey struct {
	proto            uint8
	src, dst         netip.Addr
	srcPort, dstPort uint16
}

type natEntry struct {
	out      natKey // as the instance sent it
	natPort  uint16
	lastSeen time.Time
}

// natTable is a NAT gateway's connection tracking: source NAT with port
// allocation (ICMP echo identifiers stand in for ports). Safe for concurrent
// use.
type natTable struct {
	mu       sync.Mutex
	timeouts natTimeouts
	out      map[natKey]*natEntry
	in       map[inKey]*natEntry // by (proto, nat port)
	next     [256]uint16
}

type inKey struct {
	proto uint8
	port  uint16
}

const natPortMin, natPortMax = 1024, 65535

func newNATTable(t natTimeouts) *natTable {
	return &natTable{timeouts: t, out: map[natKey]*natEntry{}, in: map[inKey]*natEntry{}}
}

func (t *natTable) timeout(proto uint8) time.Duration {
	if proto == packet.ProtoTCP {
		return t.timeouts.tcp
	}
	return t.timeouts.other
}

// outbound returns the NAT port for a connection the instance opens (or
// continues), allocating one when needed. ok is false when the ports are
// exhausted.
func (t *natTable) outbound(k natKey, now time.Time) (uint16, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.out[k]; ok && now.Sub(e.lastSeen) <= t.timeout(k.proto) {
		e.lastSeen = now
		return e.natPort, true
	} else if ok {
		t.remove(e)
	}
	port, ok := t.allocate(k.proto, now)
	if !ok {
		return 0, false
	}
	e := &natEntry{out: k, natPort: port, lastSeen: now}
	t.out[k] = e
	t.in[inKey{k.proto, port}] = e
	return port, true
}

// inbound finds the connection a reply from remote:remotePort to natPort
// belongs to and returns the instance's address and port.
func (t *natTable) inbound(proto uint8, remote netip.Addr, remotePort, natPort uint16, now time.Time) (netip.Addr, uint16, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.in[inKey{proto, natPort}]
	if !ok || e.out.dst != remote || e.out.dstPort != remotePort {
		return netip.Addr{}, 0, false
	}
	if now.Sub(e.lastSeen) > t.timeout(proto) {
		t.remove(e)
		return netip.Addr{}, 0, false
	}
	e.lastSeen = now
	return e.out.src, e.out.srcPort, true
}

func (t *natTable) allocate(proto uint8, now time.Time) (uint16, bool) {
	n := t.next[proto]
	for range natPortMax - natPortMin + 1 {
		if n < natPortMin {
			n = natPortMin
		}
		p := n
		n++
		if n == 0 { // wrapped past 65535
			n = natPortMin
		}
		e, used := t.in[inKey{proto, p}]
		if used && now.Sub(e.lastSeen) > t.timeout(proto) {
			t.remove(e)
			used = false
		}
		if !used {
			t.next[proto] = n
			return p, true
		}
	}
	return 0, false
}

func (t *natTable) remove(e *natEntry) {
	delete(t.out, e.out)
	delete(t.in, inKey{e.out.proto, e.natPort})
}

// expire drops idle entries and returns how many remain.
func (t *natTable) expire(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.out {
		if now.Sub(e.lastSeen) > t.timeout(e.out.proto) {
			t.remove(e)
		}
	}
	return len(t.out)
}

// len returns the number of tracked connections.
func (t *natTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.out)
}

// forget drops every connection an address started (a node that left the
// lab) and returns how many.
func (t *natTable) forget(addr netip.Addr) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range t.out {
		if e.out.src == addr {
			t.remove(e)
			n++
		}
	}
	return n
}
