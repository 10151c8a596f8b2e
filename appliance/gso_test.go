package appliance

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// ret queues the return of a datagram of size bytes of UDP payload (GENEVE
// header and inner packet) to gwlb from local.
func ret(t testing.TB, q *returnQueue, gwlb netip.AddrPort, local netip.Addr, size int) {
	t.Helper()
	p := geneveFlow(t, gwlb.Port(), size-packet.EncapLen+packet.EthernetLen+packet.IPv4Len+packet.UDPLen-packet.IPv4Len-packet.UDPLen, packet.AWSOptions{EndpointID: 1, Cookie: uint32(size)})
	g := packet.Geneve(p)
	if err := q.add(g[:g.HeaderLen()], g.Payload(), gwlb, local, 64, Misbehave{}); err != nil {
		t.Fatal(err)
	}
	if got := udpPayloadLen(q.msgs[len(q.msgs)-1]); got != size {
		t.Fatalf("made a datagram of %d bytes, want %d", got, size)
	}
}

func TestGSORuns(t *testing.T) {
	n1, n2 := netip.MustParseAddrPort("10.20.0.50:60000"), netip.MustParseAddrPort("10.20.10.50:60000")
	other := netip.MustParseAddrPort("10.20.0.50:60001")
	l1, l2 := a("10.20.1.11"), a("10.20.2.11")
	type d struct {
		to    netip.AddrPort
		local netip.Addr
		size  int
	}
	cases := []struct {
		name string
		in   []d
		want []int // run lengths
	}{
		{"one", []d{{n1, l1, 200}}, []int{1}},
		{"train with a shorter last", []d{{n1, l1, 1000}, {n1, l1, 1000}, {n1, l1, 400}, {n1, l1, 1000}}, []int{3, 1}},
		{"larger ends a run", []d{{n1, l1, 500}, {n1, l1, 500}, {n1, l1, 900}, {n1, l1, 900}}, []int{2, 2}},
		{"another node, port or local address", []d{{n1, l1, 500}, {n2, l1, 500}, {other, l1, 500}, {other, l2, 500}, {other, l2, 500}}, []int{1, 1, 1, 2}},
		{"64 segments at most", func() (x []d) {
			for range 70 {
				x = append(x, d{n1, l1, 100})
			}
			return
		}(), []int{64, 6}},
		{"64 KiB at most", func() (x []d) {
			for range 10 {
				x = append(x, d{n1, l1, 8000})
			}
			return
		}(), []int{8, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := newReturnQueue(len(c.in))
			for _, x := range c.in {
				ret(t, &q, x.to, x.local, x.size)
			}
			var got []int
			for msgs := q.msgs; len(msgs) > 0; {
				k := gsoRun(msgs)
				got = append(got, k)
				msgs = msgs[k:]
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("runs %v, want %v", got, c.want)
			}
		})
	}
}

// TestGSOSendsEachDatagram sends runs of returns with the GSO sender over
// loopback and checks that exactly the datagrams of the raw path arrive:
// one GENEVE packet each, from the GWLB's port, in order.
func TestGSOSendsEachDatagram(t *testing.T) {
	s := newGSOSender(64)
	if s == nil {
		t.Skip("the kernel has no UDP GSO")
	}
	defer s.close()
	// A random loopback address, so that 6081 is free on it.
	addr := netip.AddrFrom4([4]byte{127, byte(rand.IntN(200) + 20), byte(rand.IntN(250) + 1), byte(rand.IntN(250) + 1)})
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, packet.GenevePort)))
	if err != nil {
		t.Skipf("cannot listen on %s:6081: %v", addr, err)
	}
	defer pc.Close()
	gwlb := netip.AddrPortFrom(addr, uint16(49152+rand.IntN(16000)))
	q := newReturnQueue(returnBatch)
	sizes := []int{1200, 1200, 1200, 1200, 700, 90, 90, 3000, 3000}
	for _, n := range sizes {
		ret(t, &q, gwlb, addr, n)
	}
	rs := &returnSender{raw: nil, gso: s}
	for msgs := q.msgs; len(msgs) > 0; {
		k := gsoRun(msgs)
		if k == 1 {
			t.Fatalf("a run of one at %d", len(q.msgs)-len(msgs))
		}
		if err := rs.gso.send(msgs[:k]); err != nil {
			t.Fatalf("GSO send of %d: %v", k, err)
		}
		msgs = msgs[k:]
	}
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65535)
	for i, m := range q.msgs {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		want := append(append([]byte(nil), m.hdr[packet.IPv4Len+packet.UDPLen:]...), m.inner...)
		if !bytes.Equal(buf[:n], want) || from != gwlb {
			t.Fatalf("datagram %d: %d bytes from %s, want %d from %s", i, n, from, len(want), gwlb)
		}
	}
	if len(s.socks) != 1 {
		t.Fatalf("%d sockets for one source", len(s.socks))
	}

	// Mixed with returns GSO cannot carry (from an address that is not
	// the host's, and single ones), in order, counted, nothing allocated.
	raw := &captureSender{keep: true, refuse: -1}
	rs = &returnSender{raw: raw, gso: s}
	q.reset()
	foreign := a("10.255.255.1")
	for i, n := range []int{500, 500, 300, 300, 300, 200, 1000} {
		local := addr
		if i == 2 || i == 3 {
			local = foreign
		}
		ret(t, &q, gwlb, local, n)
	}
	if n, err := rs.send(q.msgs); n != len(q.msgs) || err != nil {
		t.Fatalf("sent %d of %d: %v", n, len(q.msgs), err)
	}
	// 0-1 and 4-5 are runs; 2-3 is one that cannot be bound, 6 is alone.
	if len(raw.got) != 3 {
		t.Fatalf("%d returns on the raw path, want 3", len(raw.got))
	}
	for i, want := range []int{2, 3, 6} {
		m := q.msgs[want]
		if !bytes.Equal(raw.got[i].ip, append(append([]byte(nil), m.hdr...), m.inner...)) {
			t.Fatalf("raw return %d is not return %d", i, want)
		}
	}
	for i, want := range []int{0, 1, 4, 5} {
		n, _, err := pc.ReadFromUDPAddrPort(buf)
		if m := q.msgs[want]; err != nil || n != udpPayloadLen(m) {
			t.Fatalf("GSO datagram %d: %d bytes, %v", i, n, err)
		}
	}
	raw.keep = false
	allocs := testing.AllocsPerRun(20, func() {
		if n, err := rs.send(q.msgs); n != len(q.msgs) || err != nil {
			t.Fatalf("sent %d of %d: %v", n, len(q.msgs), err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per send", allocs)
	}
}
