package offload

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// datagrams is a run of n UDP datagrams of one flow, each size bytes but
// the last, which has last bytes. geneve makes them as the emulator sends
// GENEVE over IPv4: identification 0 and no UDP checksum; otherwise the
// identifications count up and the checksums are set, as a node's own
// USO would have made them.
func datagrams(c case_, n, size, last int, geneve bool) [][]byte {
	c.udp = true
	var out [][]byte
	for i := range n {
		p := make([]byte, size)
		if i == n-1 {
			p = p[:last]
		}
		for k := range p {
			p[k] = byte(i*31 + k*7)
		}
		id := i
		if geneve {
			id = -int(c.id) // c.id + id == 0
		}
		f := c.packet(id, 0, 0, p)
		if geneve && !c.v6 {
			binary.BigEndian.PutUint16(f[14+20+6:], 0)
		}
		out = append(out, f)
	}
	return out
}

// normalized is f with what the kernel's split of a USO frame may change
// in a datagram that the emulator sent with identification 0 and no
// checksum (Header's comment) put back: the identification, the IP header
// checksum and the UDP checksum.
func normalized(f []byte) []byte {
	f = bytes.Clone(f)
	if f[14]>>4 == 4 {
		binary.BigEndian.PutUint16(f[14+4:], 0)
		packet.IPv4(f[14:]).ComputeChecksum()
		binary.BigEndian.PutUint16(f[14+20+6:], 0)
	}
	return f
}

func TestCoalesceUDPRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		c := case_{v6: r.IntN(2) == 0, id: uint16(r.Uint32())}
		geneve := !c.v6 && r.IntN(2) == 0
		size := 1 + r.IntN(9000)
		n := 1 + r.IntN(80)
		last := 1 + r.IntN(size)
		run := datagrams(c, n, size, last, geneve)
		// Another flow (another source port) and a TCP segment between.
		o := c
		o.id += 1000
		other := datagrams(o, 3, 100, 50, geneve)
		for _, f := range other {
			l4 := 14 + 20
			if c.v6 {
				l4 = 14 + 40
			}
			f[l4+1]++
			if !geneve || c.v6 {
				binary.BigEndian.PutUint16(f[l4+6:], 0)
				ip := f[14:]
				if c.v6 {
					h := packet.IPv6(ip)
					packet.UDP(f[l4:]).ComputeChecksum(h.Src(), h.Dst())
				} else {
					h := packet.IPv4(ip)
					packet.UDP(f[l4:]).ComputeChecksum(h.Src(), h.Dst())
				}
			}
		}
		frames := append([][]byte{}, run[:len(run)/2]...)
		frames = append(frames, other...)
		frames = append(frames, case_{mss: 100, flags: tcpACK}.packet(0, 1, tcpACK, []byte("tcp")))
		frames = append(frames, run[len(run)/2:]...)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			co := Coalescer{UDP: true}
			co.Plan(frames, 0)
			out, hdrs, members := written(t, &co, frames)
			var replay [][]byte
			for k, f := range out {
				for _, j := range members[k] {
					replay = append(replay, frames[j])
				}
				if len(members[k]) == 1 {
					continue
				}
				h := hdrs[k]
				if h.GSOType != GSOUDPL4 || h.CsumOffset != 6 || h.Flags != FlagNeedsCsum {
					t.Fatalf("item %d: header %+v is not USO", k, h)
				}
				if len(f)-14 > 0xffff || len(members[k]) > MaxCoalesced {
					t.Fatalf("item %d: %d bytes in %d datagrams", k, len(f)-14, len(members[k]))
				}
				segs := split(t, f, h)
				if len(segs) != len(members[k]) {
					t.Fatalf("item %d splits into %d, has %d members", k, len(segs), len(members[k]))
				}
				for s, seg := range segs {
					checkValid(t, seg)
					want := frames[members[k][s]]
					if geneve {
						seg, want = normalized(seg), normalized(want)
					}
					if !bytes.Equal(seg, want) {
						t.Fatalf("item %d datagram %d differs from frame %d", k, s, members[k][s])
					}
				}
			}
			if got, want := flowOrder(replay), flowOrder(frames); !equalOrders(got, want) {
				t.Fatalf("per-flow order changed")
			}
			// The run is split at the flow's interruption only where it
			// must be: MaxCoalesced, the 64 KB limit and the other flow.
			perWrite := min(MaxCoalesced, (0xffff-28)/size)
			most := 2*((n+perWrite-1)/perWrite+1) + 3 + 1
			if len(out) > most {
				t.Fatalf("%d writes for a run of %d datagrams of %d bytes, want at most %d", len(out), n, size, most)
			}
		})
	}
}

func TestCoalesceUDPKeepsApart(t *testing.T) {
	c := case_{id: 7}
	l4 := 14 + 20
	for name, mod := range map[string]func(d [][]byte){
		"bad UDP checksum": func(d [][]byte) { d[1][l4+6] = 0x12 },
		"bad IP checksum":  func(d [][]byte) { d[1][14+10] ^= 0xff },
		"no DF": func(d [][]byte) {
			for _, f := range d {
				f[14+6] &^= 0x40
				packet.IPv4(f[14:]).ComputeChecksum()
			}
		},
		"other TTL": func(d [][]byte) {
			d[1][14+8]--
			packet.IPv4(d[1][14:]).ComputeChecksum()
		},
		"other port": func(d [][]byte) {
			binary.BigEndian.PutUint16(d[1][l4+6:], 0)
			d[1][l4+1]++
		},
		"short first": func(d [][]byte) { d[0] = datagrams(c, 1, 1000, 500, true)[0] },
		"longer second": func(d [][]byte) {
			d[1] = datagrams(c, 1, 1200, 1200, true)[0]
		},
		"UDP length": func(d [][]byte) {
			binary.BigEndian.PutUint16(d[1][l4+4:], 100)
		},
	} {
		d := datagrams(c, 2, 1000, 1000, true)
		mod(d)
		co := Coalescer{UDP: true}
		co.Plan(d, 0)
		if co.Items() != 2 {
			t.Errorf("%s: %d writes, want the 2 datagrams apart", name, co.Items())
		}
	}
	d := datagrams(c, 5, 1000, 10, true)
	co := Coalescer{UDP: true}
	co.Plan(d, 0)
	if co.Items() != 1 {
		t.Fatalf("5 datagrams: %d writes, want 1", co.Items())
	}
	co.UDP = false
	co.Plan(d, 0)
	if co.Items() != 5 {
		t.Fatalf("5 datagrams with UDP off: %d writes, want 5", co.Items())
	}
	// A shorter one ends the run: what follows is written apart.
	d = append(datagrams(c, 3, 1000, 10, true), datagrams(c, 2, 1000, 1000, true)...)
	co.UDP = true
	co.Plan(d, 0)
	if co.Items() != 2 {
		t.Fatalf("run ended by a short datagram, then 2: %d writes, want 2", co.Items())
	}
	// IPv6 without a checksum is not a valid datagram.
	c.v6 = true
	d = datagrams(c, 2, 1000, 1000, false)
	binary.BigEndian.PutUint16(d[1][14+40+6:], 0)
	co.Plan(d, 0)
	if co.Items() != 2 {
		t.Fatalf("IPv6 without UDP checksum: %d writes, want 2", co.Items())
	}
}

func TestCoalesceUDPNoAllocs(t *testing.T) {
	frames := datagrams(case_{}, 40, 1400, 1400, true)
	hdr := make([]byte, MaxHeader)
	co := Coalescer{UDP: true}
	co.Plan(frames, 0)
	if co.Items() != 1 {
		t.Fatalf("%d writes, want 1", co.Items())
	}
	if a := planAllocs(&co, frames, hdr); a != 0 {
		t.Errorf("coalesce: %v allocations per batch", a)
	}
}

// FuzzCoalesceUDP damages a few bytes of two interleaved runs of
// datagrams: every coalesced write splits back into its members (up to
// what the kernel's split may change, see normalized), and each flow's
// datagrams keep their order.
func FuzzCoalesceUDP(f *testing.F) {
	f.Add(false, false, uint16(200), uint8(10), []byte{})
	f.Add(true, false, uint16(100), uint8(30), []byte{3, 40, 1, 5, 60, 0x10})
	f.Add(false, true, uint16(1000), uint8(70), []byte{1, 47, 0x08})
	f.Fuzz(func(t *testing.T, v6, geneve bool, size uint16, n uint8, damage []byte) {
		if size == 0 || size > 9000 || n == 0 || n > 100 {
			return
		}
		geneve = geneve && !v6
		c := case_{v6: v6, id: 9}
		a := datagrams(c, int(n), int(size), int(size), geneve)
		c.v6 = !v6 // another flow: the other IP version
		b := datagrams(c, int(n)/2+1, int(size)/2+1, 1, false)
		frames := interleaveDamaged(a, b, damage)
		co := Coalescer{UDP: true}
		co.Plan(frames, 0)
		checkWrites(t, &co, frames, "datagram", func(a, b []byte) bool { return bytes.Equal(normalized(a), normalized(b)) })
	})
}
