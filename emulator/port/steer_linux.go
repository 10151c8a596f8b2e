package port

import (
	"encoding/binary"
	"sync/atomic"
)

// steerSlots is the size of a multi-queue TAP's steering table.
const steerSlots = 4096

// steering remembers, per flow (by a hash of its addresses and ports that
// is the same both ways), the TAP queue the node's frames of the flow were
// last read on. A frame toward the node is written on that queue, and a
// frame of a flow not seen yet on the queue its hash picks: the node's
// kernel sends a flow on the queue the flow's frames toward it were last
// written on (the TAP's own flow table), so writing every frame on one
// queue would pull every flow that gets answers onto that queue, and
// writing a flow on another queue than it is read on would move it, and a
// frame still queued on the old queue could be read after a later one.
// Two flows that share a slot share a queue; a flow moved that way may
// see that one reordering.
type steering struct {
	slots [steerSlots]atomic.Uint32 // queue index + 1; 0 for no flow seen
}

// note records that frame was read on queue q.
func (s *steering) note(frame []byte, q int) {
	h, ok := flowHash(frame)
	if !ok {
		return
	}
	sl := &s.slots[h%steerSlots]
	if sl.Load() != uint32(q+1) {
		sl.Store(uint32(q + 1))
	}
}

// queue returns the queue of n to write frame on.
func (s *steering) queue(frame []byte, n int) int {
	h, ok := flowHash(frame)
	if !ok {
		return 0
	}
	if v := s.slots[h%steerSlots].Load(); v != 0 && int(v) <= n {
		return int(v - 1)
	}
	return int(h>>16) % n
}

// flowHash hashes an Ethernet frame's IPv4 or IPv6 addresses, protocol
// and TCP or UDP ports so that both directions of a flow hash alike; a
// fragment hashes by its addresses and protocol alone. ok is false for a
// frame that is neither IPv4 nor IPv6.
func flowHash(f []byte) (h uint32, ok bool) {
	if len(f) < 14 {
		return 0, false
	}
	et, l3 := binary.BigEndian.Uint16(f[12:]), 14
	if et == 0x8100 && len(f) >= 18 {
		et, l3 = binary.BigEndian.Uint16(f[16:]), 18
	}
	ip := f[l3:]
	var a, b uint32
	var proto byte
	var l4 []byte
	switch {
	case et == 0x0800 && len(ip) >= 20:
		a, b, proto = binary.BigEndian.Uint32(ip[12:]), binary.BigEndian.Uint32(ip[16:]), ip[9]
		ihl := int(ip[0]&0x0f) * 4
		if binary.BigEndian.Uint16(ip[6:])&0x3fff == 0 && ihl >= 20 && len(ip) >= ihl {
			l4 = ip[ihl:]
		}
	case et == 0x86dd && len(ip) >= 40:
		for i := 8; i < 24; i += 4 {
			a = a*0x9e3779b1 ^ binary.BigEndian.Uint32(ip[i:])
			b = b*0x9e3779b1 ^ binary.BigEndian.Uint32(ip[i+16:])
		}
		proto, l4 = ip[6], ip[40:]
	default:
		return 0, false
	}
	var sp, dp uint32
	if (proto == 6 || proto == 17) && len(l4) >= 4 {
		sp, dp = uint32(binary.BigEndian.Uint16(l4)), uint32(binary.BigEndian.Uint16(l4[2:]))
	}
	// A sum of one mix per end: the same whichever end is the source.
	return fmix(fmix(a^sp<<16^sp) + fmix(b^dp<<16^dp) + uint32(proto)), true
}

// fmix is MurmurHash3's 32-bit finalizer.
func fmix(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
