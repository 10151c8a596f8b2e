package fabric

import (
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// Loop guard: a packet that enters GWLB endpoints again and again is in a
// loop that no hop count inside the fabric can see. Routes that send
// endpoint A's subnet to endpoint B and B's back to A make a packet go out
// to an appliance, come back, and go out again; on every round it leaves
// the emulator and comes back as a new frame, and neither the VPC, the GWLB
// nor the appliance decrements its TTL, so it would circle for ever.
//
// The guard remembers, per packet, how often it entered an endpoint within a
// short window. A packet is named by a fingerprint of the inner packet's
// bytes that no hop of the lab changes: addresses, protocol, length, IPv4
// ID and fragment field, the transport header (TCP sequence and
// acknowledgement numbers included) and the first payload bytes; not the
// TTL or hop limit, nor any checksum. The entry that makes it more than
// loopBound entries within loopWindow is dropped, and so is every later one
// within the window.
//
// The bound: a packet of a working design crosses at most a couple of
// endpoints (ingress, egress and inspect-then-NAT cross one; east-west
// between two VPCs, two zones or a transit gateway two). Identical copies a
// host sends on purpose are TCP retransmissions: timeouts at least 200 ms
// apart (Linux's smallest RTO; a SYN's first is after a second), so at most
// three in one window, plus one or two quicker ones (a tail loss probe, a
// fast retransmit), and over IPv4 most of them differ in their IP ID
// anyway: at most five copies, ten endpoint entries with two endpoints each.
// A bound of 16 leaves room for both; a loop of the reference appliance
// reaches it in about a millisecond (one round takes ~80 µs), and a loop as
// slow as one endpoint entry per 60 ms of wall time is still caught. What it
// cannot tell from a loop: a sender of more than 16 byte-identical packets
// within a second (IPv6, or IPv4 with DF from an unconnected socket, where
// Linux leaves the IP ID 0), which applications rarely send; a tool that
// replays one captured packet in a tight loop does.
//
// The window is wall time (turned into lab time with the clock's scale at
// start): both the speed of a loop and a host's retransmissions run at the
// wall clock's pace, whatever lab.time_scale says.
//
// The table is fixed-size and shared by all ports' workers (a loop's rounds
// arrive on different ports), one atomic word per slot, no locks; it is
// lossy on purpose. A slot is taken over by another packet once its window
// is over, or before that unless its packet already entered more than
// loopSticky times (a loop in progress keeps its slot). A packet whose slot
// is held is not counted until the slot frees up, which delays, but does not
// prevent, catching it.
const (
	loopBound  = 16
	loopWindow = time.Second
	loopSticky = 2
	// loopSlots is a power of two: 64 KiB of table.
	loopSlots = 1 << 13
	// loopTicks is the window in ticks, the time unit of a slot.
	loopTicks = 64
	// loopHeader and loopL4 are how many bytes of the IP header(s) and
	// from the transport header on a fingerprint covers.
	loopHeader = 64
	loopL4     = 64
)

// A slot packs a 32-bit tag of the fingerprint (the bits not used as the
// index), the entry count (8 bits) and the tick the window started (24
// bits, compared modulo 2^24); 0 is a free slot.
const (
	slotTickBits = 24
	slotTickMask = 1<<slotTickBits - 1
)

type loopGuard struct {
	seed  maphash.Seed
	start time.Time
	tick  time.Duration // a window is loopTicks ticks of lab time
	slots [loopSlots]atomic.Uint64
}

func newLoopGuard(c clock.Clock) *loopGuard {
	window := loopWindow
	if s, ok := c.(interface{ Scale() float64 }); ok {
		window = time.Duration(float64(loopWindow) * s.Scale())
	}
	return &loopGuard{seed: maphash.MakeSeed(), start: c.Now(), tick: max(window/loopTicks, 1)}
}

// enter records one entry of the packet with fingerprint fp at lab time
// now and reports whether it stays within the bound.
func (g *loopGuard) enter(fp uint64, now time.Time) bool {
	slot := &g.slots[fp&(loopSlots-1)]
	tag := fp >> 32
	tick := uint64(now.Sub(g.start)/g.tick) & slotTickMask
	for range 4 { // contention: give up rather than spin (lossy)
		old := slot.Load()
		otag, count, since := old>>32, old>>slotTickBits&0xff, old&slotTickMask
		recent := old != 0 && (tick-since)&slotTickMask < loopTicks
		switch {
		case recent && otag == tag:
			if count > loopBound {
				return false
			}
			count++
			if slot.CompareAndSwap(old, tag<<32|count<<slotTickBits|since) {
				return count <= loopBound
			}
		case recent && count > loopSticky:
			return true // held by a packet that may be looping
		default:
			if slot.CompareAndSwap(old, tag<<32|1<<slotTickBits|tick) {
				return true
			}
		}
	}
	return true
}

// fingerprint hashes the bytes of an inner packet that no hop of the lab
// changes (see the loop guard). inner is a whole IP packet that ParseFlow
// accepted with proto and info.
func (w *worker) fingerprint(inner []byte, proto uint8, info packet.FlowInfo) uint64 {
	l4 := min(info.L4Offset, len(inner))
	b := append(w.fp[:0], inner[:min(l4, loopHeader)]...)
	if info.Version == 4 {
		b[8], b[10], b[11] = 0, 0, 0 // TTL, header checksum
	} else {
		b[7] = 0 // hop limit
	}
	h := len(b)
	b = append(b, inner[l4:min(l4+loopL4, len(inner))]...)
	if t := b[h:]; info.Fragment != packet.LaterFragment {
		switch {
		case proto == packet.ProtoTCP && len(t) >= 18:
			t[16], t[17] = 0, 0
		case proto == packet.ProtoUDP && len(t) >= 8:
			t[6], t[7] = 0, 0
		case (proto == packet.ProtoICMP || proto == packet.ProtoICMPv6) && len(t) >= 4:
			t[2], t[3] = 0, 0
		}
	}
	return maphash.Bytes(w.f.loops.seed, b)
}
