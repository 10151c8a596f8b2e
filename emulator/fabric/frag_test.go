package fabric

import (
	"bytes"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// fragFrames is a 3000-byte UDP datagram from the client to web's public
// address, as three frames of IPv4 fragments (1480 payload bytes at most).
func fragFrames(id uint16) [][]byte {
	ip := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("203.0.113.10")}, 40000, 5000, bytes.Repeat([]byte{7}, 3000))
	packet.IPv4(ip).SetID(id)
	packet.IPv4(ip).ComputeChecksum()
	hl := packet.IPv4(ip).HeaderLen()
	payload := packet.IPv4(ip).Payload()
	var out [][]byte
	for off := 0; off < len(payload); off += 1480 {
		end := min(off+1480, len(payload))
		f := packet.IPv4(append(append([]byte(nil), ip[:hl]...), payload[off:end]...))
		f.SetTotalLen(uint16(len(f)))
		f.SetFragOffset(uint16(off))
		if end < len(payload) {
			f.SetFlags(packet.IPv4FlagMF)
		} else {
			f.SetFlags(0)
		}
		f.ComputeChecksum()
		out = append(out, packet.AppendFrame(nil, packet.MAC(macRouterInet), packet.MAC(macClient), f))
	}
	return out
}

// TestGWLBFragmentsLaterFirst: fragments that arrive last-first reach the
// target first-first, all in the flow of the first one.
func TestGWLBFragmentsLaterFirst(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	frames := fragFrames(77)
	for i := len(frames) - 1; i > 0; i-- {
		h.send("client", frames[i])
		h.none("fw-1") // held until the first fragment arrives
	}
	h.send("client", frames[0])
	var cookie uint32
	for i, want := range []uint16{0, 2960, 1480} { // the first, then the held ones
		d := decap(t, h.recv("fw-1"))
		inner := packet.IPv4(d.Inner)
		if inner.FragOffset() != want || inner.ID() != 77 {
			t.Fatalf("GENEVE %d carries fragment at %d id %d, want %d", i, inner.FragOffset(), inner.ID(), want)
		}
		if i == 0 {
			cookie = d.Options.Cookie
		} else if d.Options.Cookie != cookie {
			t.Fatalf("fragment at %d has cookie %08x, the first %08x", want, d.Options.Cookie, cookie)
		}
	}
	h.none("fw-1")
	if drops := nonZeroDrops(h.f); len(drops) != 0 {
		t.Fatalf("drops %v", drops)
	}
}

// TestGWLBFragmentsDoNotAllocate: a fragmented datagram through the GWLB,
// in order, adds no allocation to the forwarding path.
func TestGWLBFragmentsDoNotAllocate(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	frames := fragFrames(78)
	buf := make([]byte, Headroom+4000)
	send := func() {
		for _, f := range frames {
			copy(buf[Headroom:], f)
			h.w.receive("client", buf, Headroom, len(f))
			<-h.ports["fw-1"].out
		}
	}
	send() // sizes the node's fragment record
	allocs := testing.AllocsPerRun(100, send)
	// The fake port copies each written frame (3 here); the fabric adds
	// nothing.
	if allocs > float64(len(frames)) {
		t.Fatalf("%v allocations per datagram", allocs)
	}
}
