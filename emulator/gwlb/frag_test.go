package gwlb

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// fragment splits an IPv4 packet into fragments of at most size payload
// bytes (a multiple of 8), first fragment first, all with the packet's ID.
func fragment(pkt []byte, size int) [][]byte {
	ip := packet.IPv4(pkt)
	hl := ip.HeaderLen()
	payload := ip.Payload()
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		f := append(append([]byte(nil), pkt[:hl]...), payload[off:end]...)
		fi := packet.IPv4(f)
		fi.SetTotalLen(uint16(len(f)))
		fi.SetFragOffset(uint16(off))
		if end < len(payload) {
			fi.SetFlags(packet.IPv4FlagMF)
		} else {
			fi.SetFlags(0)
		}
		fi.ComputeChecksum()
		out = append(out, f)
	}
	return out
}

// datagram is a UDP or TCP packet of 3000 payload bytes from sport, with IP
// ID id, as fragments of 1480 bytes (a 1500-byte MTU): three of them.
func datagram(proto uint8, src, dst string, sport, dport, id uint16) (whole []byte, frags [][]byte) {
	payload := bytes.Repeat([]byte{byte(sport)}, 3000)
	h := packet.IPHeader{Src: a(src), Dst: a(dst)}
	if proto == packet.ProtoUDP {
		whole = packet.AppendUDP(nil, h, sport, dport, payload)
	} else {
		whole = packet.AppendTCP(nil, h, packet.TCPHeader{SrcPort: sport, DstPort: dport, Flags: packet.TCPFlagACK | packet.TCPFlagPSH, Seq: 1, Ack: 1, Window: 1000}, payload)
	}
	ip := packet.IPv4(whole)
	ip.SetID(id)
	ip.ComputeChecksum()
	return whole, fragment(whole, 1480)
}

// openFlow starts the flow the datagrams of sport belong to (a SYN for TCP)
// and returns its decision.
func openFlow(t *testing.T, n *Node, proto uint8, sport uint16, now time.Time) Decision {
	t.Helper()
	if proto == packet.ProtoTCP {
		return forward(t, n, tcp("198.51.100.10", "10.0.1.10", sport, 80, packet.TCPFlagSYN), now)
	}
	return forward(t, n, udp("198.51.100.10", "10.0.1.10", sport, 80), now)
}

func sameWay(t *testing.T, what string, got, want Decision) {
	t.Helper()
	if got.Target != want.Target || got.Params.Options != want.Params.Options || got.Params.SrcPort != want.Params.SrcPort {
		t.Fatalf("%s: target %s cookie %08x port %d, the flow's: target %s cookie %08x port %d", what,
			got.Target.Name, got.Params.Options.Cookie, got.Params.SrcPort, want.Target.Name, want.Params.Options.Cookie, want.Params.SrcPort)
	}
}

// TestFragmentsFollowTheirFlow: with 5-tuple stickiness every fragment of a
// TCP or UDP datagram goes where its flow goes, first fragment first or
// last. With two targets and 32 flows, 3-tuple keyed later fragments would
// land on the other target for about half of them.
func TestFragmentsFollowTheirFlow(t *testing.T) {
	for _, proto := range []uint8{packet.ProtoUDP, packet.ProtoTCP} {
		for _, order := range []string{"first-first", "later-first"} {
			t.Run(map[uint8]string{packet.ProtoUDP: "udp", packet.ProtoTCP: "tcp"}[proto]+"/"+order, func(t *testing.T) {
				n := newLB(t, "5-tuple", false, false).Node("az1")
				now := epoch.Add(time.Second)
				for i := range 32 {
					sport := uint16(40000 + i)
					flowD := openFlow(t, n, proto, sport, now)
					_, frags := datagram(proto, "198.51.100.10", "10.0.1.10", sport, 80, uint16(100+i))
					if len(frags) != 3 {
						t.Fatalf("%d fragments", len(frags))
					}
					if order == "first-first" {
						for _, f := range frags {
							sameWay(t, "fragment", forward(t, n, f, now), flowD)
						}
						continue
					}
					// Later fragments first: held, then released after the
					// first, in the order they came.
					for _, f := range frags[1:] {
						if d, ok := n.Forward(f, ep1, now); ok || !d.Held {
							t.Fatalf("later fragment before its first: ok=%v held=%v", ok, d.Held)
						}
					}
					first := forward(t, n, frags[0], now)
					sameWay(t, "first fragment", first, flowD)
					if !first.Release.Pending() {
						t.Fatal("first fragment released nothing")
					}
					buf := make([]byte, 9000)
					var got [][]byte
					for {
						m, ok := n.TakeHeld(first.Release, buf)
						if !ok {
							break
						}
						f := append([]byte(nil), buf[:m]...)
						got = append(got, f)
						sameWay(t, "held fragment", forward(t, n, f, now), flowD)
					}
					if len(got) != 2 || (!bytes.Equal(got[0], frags[1]) && !bytes.Equal(got[0], frags[2])) {
						t.Fatalf("released %d fragments", len(got))
					}
				}
				if m := n.Metrics(now); m.ActiveFlowCount != 32 || m.NewFlowCount != 32 {
					t.Fatalf("fragments made flows of their own: %+v", m)
				}
				for r := range numReasons {
					if c := n.Drops(r); c != 0 {
						t.Fatalf("%d dropped as %s", c, r)
					}
				}
			})
		}
	}
}

// TestFragmentsOfRepliesAndReturns: fragments of the reply direction
// follow the flow too, and an appliance's returned later fragments are
// accepted with the flow's cookie and refused for an unknown datagram.
func TestFragmentsOfRepliesAndReturns(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	flowD := openFlow(t, n, packet.ProtoUDP, 40000, now)
	_, replies := datagram(packet.ProtoUDP, "10.0.1.10", "198.51.100.10", 80, 40000, 7)
	for _, f := range replies {
		d := forward(t, n, f, now)
		sameWay(t, "reply fragment", d, flowD)
		dd, err := returned(t, d, f, nil)
		if _, why, ok := n.ReturnWhy(dd, err, now); !ok {
			t.Fatalf("returned fragment refused: %s", why)
		}
	}
	_, other := datagram(packet.ProtoUDP, "10.0.1.10", "198.51.100.10", 80, 40000, 8)
	dd, err := returned(t, flowD, other[1], nil)
	if _, why, ok := n.ReturnWhy(dd, err, now); ok || why != DropReturnUnknownFlow {
		t.Fatalf("later fragment of a datagram the node never sent: ok=%v %s", ok, why)
	}
}

// TestOrphanFragments: a later fragment whose first never comes is
// dropped after FragmentTimeout, and one that finds the pool full at once;
// both are counted.
func TestOrphanFragments(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	for i := range fragsHeldMax {
		_, frags := datagram(packet.ProtoUDP, "198.51.100.10", "10.0.1.10", 40000, 80, uint16(i))
		if d, _ := n.Forward(frags[2], ep1, now); !d.Held {
			t.Fatalf("fragment %d not held", i)
		}
	}
	_, frags := datagram(packet.ProtoUDP, "198.51.100.10", "10.0.1.10", 40000, 80, 9999)
	if d, ok := n.Forward(frags[1], ep1, now); ok || d.Held || d.Dropped != DropFragmentOrphaned {
		t.Fatalf("with the pool full: ok=%v held=%v dropped=%s", ok, d.Held, d.Dropped)
	}
	n.Expire(now.Add(FragmentTimeout - time.Millisecond))
	if got := n.Drops(DropFragmentOrphaned); got != 1 {
		t.Fatalf("%d orphans before the timeout", got)
	}
	n.Expire(now.Add(FragmentTimeout))
	if got := n.Metrics(now).Drops["fragment_orphaned"]; got != 1+fragsHeldMax {
		t.Fatalf("%d orphans after the timeout, want %d", got, 1+fragsHeldMax)
	}
	// The pool has room again.
	if d, _ := n.Forward(frags[1], ep1, now.Add(FragmentTimeout)); !d.Held {
		t.Fatal("pool still full after the orphans expired")
	}
}

// TestFragmentsNeedNothingWithoutPorts: with 2-tuple stickiness the key has
// no ports, so fragments are forwarded at once, never held.
func TestFragmentsNeedNothingWithoutPorts(t *testing.T) {
	n := newLB(t, "2-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	flowD := openFlow(t, n, packet.ProtoUDP, 40000, now)
	_, frags := datagram(packet.ProtoUDP, "198.51.100.10", "10.0.1.10", 40000, 80, 5)
	for i := len(frags) - 1; i >= 0; i-- {
		sameWay(t, "fragment", forward(t, n, frags[i], now), flowD)
	}
}

func TestFragmentForwardingDoesNotAllocate(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	openFlow(t, n, packet.ProtoUDP, 40000, now)
	_, frags := datagram(packet.ProtoUDP, "198.51.100.10", "10.0.1.10", 40000, 80, 5)
	for _, f := range frags { // the first use sizes the record
		forward(t, n, f, now)
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, f := range frags {
			n.Forward(f, ep1, now)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per datagram", allocs)
	}
}

// TestFragmentRecordsAgainstReference drives the record ring with random
// datagrams, against a slow reference: a record is found, with its latest
// flow, while it is among the last fragsMax datagrams recorded and younger
// than FragmentTimeout.
func TestFragmentRecordsAgainstReference(t *testing.T) {
	var f frags
	type ref struct {
		fk  packet.FlowKey
		at  time.Duration
		seq int // when the datagram took its place
	}
	want := map[fragKey]ref{}
	seq := 0
	rng := uint64(1)
	next := func(n int) int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	at := time.Duration(0)
	for i := range 50000 {
		at += time.Duration(next(3)) * time.Millisecond
		k := fragKey{ep: ep1, src: a("198.51.100.10"), dst: a("10.0.1.10"), proto: packet.ProtoUDP, id: uint16(next(6000))}
		if next(3) == 0 {
			fk := packet.FlowKey{Src: k.src, Dst: k.dst, Proto: k.proto, SrcPort: uint16(i), DstPort: 80}
			f.record(k, fk, at)
			r, live := want[k]
			if !live || seq-r.seq > fragsMax {
				r.seq = seq
				seq++
			}
			want[k] = ref{fk: fk, at: at, seq: r.seq}
			continue
		}
		r, known := want[k]
		wantOK := known && seq-r.seq <= fragsMax && at-r.at < FragmentTimeout
		got, ok := f.lookup(k, at)
		if ok != wantOK || (ok && got.fk != r.fk) {
			t.Fatalf("op %d: lookup id %d = %v %v, want %v %v", i, k.id, got.fk.SrcPort, ok, r.fk.SrcPort, wantOK)
		}
	}
}

// TestFragmentsConcurrently forwards fragmented datagrams of many flows
// from several goroutines (run with -race).
func TestFragmentsConcurrently(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	done := make(chan error)
	for g := range 4 {
		go func() {
			for i := range 50 {
				sport := uint16(10000 + g*100 + i)
				flowD, ok := n.Forward(udp("198.51.100.10", "10.0.1.10", sport, 80), ep1, now)
				if !ok {
					done <- fmt.Errorf("flow %d dropped", sport)
					return
				}
				_, frags := datagram(packet.ProtoUDP, "198.51.100.10", "10.0.1.10", sport, 80, sport)
				for _, f := range frags {
					if d, ok := n.Forward(f, ep1, now); !ok || d.Target != flowD.Target {
						done <- fmt.Errorf("fragment of flow %d went elsewhere", sport)
						return
					}
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestFragmentsOfADroppedDatagram: when the node drops a first fragment,
// its later fragments go the same way at once, for the same reason, held
// or not, and are never counted as orphans.
func TestFragmentsOfADroppedDatagram(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	// A TCP datagram of no flow (no SYN came): its first fragment is
	// dropped as tcp_no_flow.
	_, frags := datagram(packet.ProtoTCP, "198.51.100.10", "10.0.1.10", 40000, 80, 3)
	if d, _ := n.Forward(frags[2], ep1, now); !d.Held {
		t.Fatal("later fragment not held")
	}
	if _, ok := n.Forward(frags[0], ep1, now); ok {
		t.Fatal("first fragment of no flow forwarded")
	}
	if d, ok := n.Forward(frags[1], ep1, now); ok || d.Held || d.Dropped != DropTCPNoFlow {
		t.Fatalf("later fragment after a dropped first: ok=%v held=%v dropped=%s", ok, d.Held, d.Dropped)
	}
	n.Expire(now.Add(FragmentTimeout))
	if got, orphans := n.Drops(DropTCPNoFlow), n.Drops(DropFragmentOrphaned); got != 3 || orphans != 0 {
		t.Fatalf("tcp_no_flow %d (want 3), fragment_orphaned %d (want 0)", got, orphans)
	}
}
