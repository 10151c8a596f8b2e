package gwlb

import (
	"net/netip"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// IPv4 fragments (spec §5, §3.1). AWS does not say what a GWLB does with
// fragments it receives (spec §11 q6); the lab keeps every fragment of a
// datagram on one target, which is what an appliance needs to reassemble
// or inspect it. Only the first fragment carries the ports, so with 5-tuple
// stickiness a TCP or UDP datagram's later fragments would otherwise be
// keyed by 3-tuple, a different flow and likely a different target. With
// 3- and 2-tuple stickiness, and for other protocols, ports are not part of
// the key and fragments need nothing special.
//
// The node does not reassemble (that would copy every datagram and change
// what the appliance sees): it tracks fragments. The first fragment is
// forwarded as its flow's packet, and leaves behind a record of its
// datagram (endpoint, source, destination, protocol, IP ID) naming that
// flow; later fragments follow the record to the same flow, target, cookie
// and outer port, in both directions of GENEVE (returned fragments are
// checked against the same record). A later fragment that arrives before
// its first is held, a copy in a small pool, until the first one comes and
// then sent right after it; one whose first never comes within
// FragmentTimeout, or that finds the pool full, is dropped and counted
// (DropFragmentOrphaned). When the node drops a first fragment (a TCP
// datagram of no flow, no target), the record says so, and the later
// fragments, held or still to come, are dropped at once for the same
// reason. Records are kept for FragmentTimeout (as Linux
// keeps a datagram's fragments for reassembly) in a bounded ring, oldest
// overwritten first. IPv6 fragments are not tracked: they keep the
// 3-tuple key of their fragment header's upper protocol.

// Bounds of fragment tracking, per node.
const (
	// FragmentTimeout is how long a datagram's record, or a held fragment,
	// lives (lab time).
	FragmentTimeout = 30 * time.Second
	// fragsMax records fit in a node's ring: a burst of more fragmented
	// datagrams than this within FragmentTimeout overwrites the oldest
	// records, whose late fragments are then held and, with no first
	// fragment to come, dropped.
	fragsMax = 4096
	// fragsHeldMax later fragments can wait for their first one, each at
	// most fragHeldBytes long (an endpoint's largest packet).
	fragsHeldMax  = 64
	fragHeldBytes = 8500
)

// fragKey names an IPv4 datagram behind one endpoint (RFC 791: source,
// destination, protocol and identification).
type fragKey struct {
	ep       uint64
	src, dst netip.Addr
	proto    uint8
	id       uint16
}

type fragRecord struct {
	k  fragKey
	fk packet.FlowKey // the first fragment's flow key, with its ports
	at time.Duration
	// dropped says the node dropped the first fragment, for why: later
	// fragments go the same way at once rather than wait for nothing.
	dropped bool
	why     Reason
	live    bool
}

type heldFrag struct {
	k    fragKey
	at   time.Duration
	buf  []byte // the fragment, len is its size; capacity kept for reuse
	used bool
}

// frags is a node's fragment tracking. Everything is allocated on first
// use, so nodes that never see a fragment pay nothing.
type frags struct {
	mu    sync.Mutex
	m     map[fragKey]int32 // record's slot in ring
	ring  []fragRecord
	next  int
	held  []heldFrag
	nheld int
}

// tracked reports whether a packet's flow key depends on ports its later
// fragments lack: TCP and UDP over IPv4 with 5-tuple stickiness.
func (n *Node) tracked(fk packet.FlowKey, info packet.FlowInfo) bool {
	return info.Version == 4 && info.Fragment != packet.NotFragment && n.lb.mode == flow.FiveTuple &&
		(fk.Proto == packet.ProtoTCP || fk.Proto == packet.ProtoUDP)
}

func fragKeyOf(ep uint64, inner []byte, fk packet.FlowKey) fragKey {
	return fragKey{ep: ep, src: fk.Src, dst: fk.Dst, proto: fk.Proto, id: packet.IPv4(inner).ID()}
}

// record remembers that datagram k belongs to the flow of fk, and reports
// whether later fragments of it are waiting.
func (f *frags) record(k fragKey, fk packet.FlowKey, at time.Duration) (waiting bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put(fragRecord{k: k, fk: fk, at: at, live: true})
	if f.nheld > 0 {
		for j := range f.held {
			if f.held[j].used && f.held[j].k == k {
				return true
			}
		}
	}
	return false
}

// recordDrop remembers that datagram k's first fragment was dropped, for
// why, frees its held fragments and returns how many there were.
func (f *frags) recordDrop(k fragKey, why Reason, at time.Duration) (freed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put(fragRecord{k: k, at: at, dropped: true, why: why, live: true})
	if f.nheld > 0 {
		for j := range f.held {
			if h := &f.held[j]; h.used && h.k == k {
				h.used = false
				f.nheld--
				freed++
			}
		}
	}
	return freed
}

// put stores r in k's place, or in the oldest one; f.mu is held.
func (f *frags) put(r fragRecord) {
	k := r.k
	if f.m == nil {
		f.m = make(map[fragKey]int32, fragsMax)
		f.ring = make([]fragRecord, fragsMax)
	}
	i, ok := f.m[k]
	if !ok {
		i = int32(f.next)
		f.next = (f.next + 1) % len(f.ring)
		if old := &f.ring[i]; old.live {
			delete(f.m, old.k)
		}
		f.m[k] = i
	}
	f.ring[i] = r
}

// lookup returns the record of datagram k's first fragment.
func (f *frags) lookup(k fragKey, at time.Duration) (fragRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.m[k]
	if !ok || at-f.ring[i].at >= FragmentTimeout {
		return fragRecord{}, false
	}
	return f.ring[i], true
}

// hold keeps a copy of a later fragment of datagram k until its first one
// arrives; false if the pool is full.
func (f *frags) hold(k fragKey, frag []byte, at time.Duration) bool {
	if len(frag) > fragHeldBytes {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = make([]heldFrag, fragsHeldMax)
	}
	for j := range f.held {
		h := &f.held[j]
		if h.used {
			continue
		}
		if h.buf == nil {
			h.buf = make([]byte, 0, fragHeldBytes)
		}
		h.k, h.at, h.used, h.buf = k, at, true, append(h.buf[:0], frag...)
		f.nheld++
		return true
	}
	return false
}

// take copies one held fragment of datagram k into dst and frees its place.
func (f *frags) take(k fragKey, dst []byte) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for j := range f.held {
		h := &f.held[j]
		if h.used && h.k == k && len(h.buf) <= len(dst) {
			n := copy(dst, h.buf)
			h.used = false
			f.nheld--
			return n, true
		}
	}
	return 0, false
}

// expire frees held fragments whose first fragment did not come in time,
// and returns how many.
func (f *frags) expire(at time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for j := range f.held {
		if h := &f.held[j]; h.used && at-h.at >= FragmentTimeout {
			h.used = false
			f.nheld--
			n++
		}
	}
	return n
}

// Release names a datagram whose first fragment was just forwarded while
// later fragments of it were held; the fabric sends them after it with
// TakeHeld.
type Release struct {
	k  fragKey
	ok bool
}

// Pending reports whether r names held fragments.
func (r Release) Pending() bool { return r.ok }

// TakeHeld copies one held fragment of r's datagram into dst, as it was
// when it reached the node, and returns its length; false when none is
// left. The caller forwards it again through the same endpoint, where it
// now finds its datagram's record.
func (n *Node) TakeHeld(r Release, dst []byte) (int, bool) {
	if !r.ok {
		return 0, false
	}
	return n.frags.take(r.k, dst)
}
