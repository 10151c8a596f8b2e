package appliance

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"golang.org/x/sys/unix"
)

// captureSender is a batchSender that keeps copies of what it is given, or
// (keep false) only counts, without allocating.
type captureSender struct {
	keep  bool
	calls int
	n     int
	got   []sent
	// refuse, when >= 0, is the index (counted over all calls) of a
	// return the "kernel" refuses.
	refuse int
}

func (s *captureSender) send(msgs []returnMsg) (int, error) {
	s.calls++
	for i, m := range msgs {
		if s.n == s.refuse {
			s.n++
			return i, unix.EMSGSIZE
		}
		s.n++
		if s.keep {
			s.got = append(s.got, sent{append(append([]byte(nil), m.hdr...), m.inner...), m.to})
		}
	}
	return len(msgs), nil
}

// geneveFlow is a GENEVE payload as a GWLB node sends it: the AWS options and
// an inner UDP packet of flow sport with size bytes of payload.
func geneveFlow(t testing.TB, sport uint16, size int, opts packet.AWSOptions) []byte {
	t.Helper()
	body := bytes.Repeat([]byte{byte(sport), 0x5a}, size/2+1)[:size]
	inner := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("10.0.1.10")}, sport, 53, body)
	buf := make([]byte, packet.EncapLen+len(inner))
	copy(buf[packet.EncapLen:], inner)
	p := packet.EncapParams{Src: a("10.20.0.50"), Dst: a("10.20.1.11"), SrcPort: 60000, Options: opts}
	start, err := packet.Encap(buf, packet.EncapLen, len(inner), &p)
	if err != nil {
		t.Fatal(err)
	}
	return buf[start+packet.EthernetLen+packet.IPv4Len+packet.UDPLen:]
}

// reference builds a return with packet.Encap: what the appliance must
// send for a datagram from gwlb to local.
func reference(t *testing.T, payload []byte, gwlb netip.AddrPort, local netip.Addr) []byte {
	t.Helper()
	g := packet.Geneve(payload)
	opts, err := g.AWSOptions()
	if err != nil {
		t.Fatal(err)
	}
	inner := g.Payload()
	buf := make([]byte, packet.EncapLen+len(inner))
	copy(buf[packet.EncapLen:], inner)
	p := packet.EncapParams{Src: local, Dst: gwlb.Addr(), SrcPort: gwlb.Port(), TTL: 64, DF: true, UDPChecksum: true, Options: opts}
	start, err := packet.Encap(buf, packet.EncapLen, len(inner), &p)
	if err != nil {
		t.Fatal(err)
	}
	return buf[start+packet.EthernetLen:]
}

// TestBatchedReturnsAreExact queues returns of several flows, sizes and
// GWLB nodes, more than one batch holds, and checks every return byte for
// byte against the reference encapsulation, in order.
func TestBatchedReturnsAreExact(t *testing.T) {
	nodes := []netip.AddrPort{netip.MustParseAddrPort("10.20.0.50:60000"), netip.MustParseAddrPort("10.20.10.50:49152")}
	app := New(Config{GWLBNodes: []netip.Addr{nodes[0].Addr(), nodes[1].Addr()}})
	cs := &captureSender{keep: true, refuse: -1}
	app.sendBatch = cs
	e := app.newEchoer()
	local := a("10.20.1.11")
	type in struct {
		payload []byte
		gwlb    netip.AddrPort
	}
	var ins []in
	for i := range 3*returnBatch + 5 {
		opts := packet.AWSOptions{EndpointID: 0x1506c7254f8aedb0 + uint64(i%3), Cookie: 0xcafe0000 + uint32(i)}
		size := []int{0, 1, 18, 1400, 8400}[i%5]
		ins = append(ins, in{geneveFlow(t, uint16(1000+i), size, opts), nodes[i%2]})
	}
	now := time.Now()
	for _, x := range ins {
		e.handle(x.payload, x.gwlb, local, now)
	}
	e.flush()
	if len(cs.got) != len(ins) || cs.calls < 4 {
		t.Fatalf("%d returns in %d sends, want %d in at least 4", len(cs.got), cs.calls, len(ins))
	}
	for i, x := range ins {
		want := reference(t, x.payload, x.gwlb, local)
		if !bytes.Equal(cs.got[i].ip, want) || cs.got[i].to != x.gwlb.Addr() {
			t.Fatalf("return %d to %s:\n got  %x\n want %x", i, cs.got[i].to, cs.got[i].ip, want)
		}
		ip := packet.IPv4(cs.got[i].ip)
		if !packet.UDP(ip.Payload()).ChecksumValid(ip.Src(), ip.Dst()) {
			t.Fatalf("return %d: bad UDP checksum", i)
		}
	}
	if s := app.Stats(); s.Received != uint64(len(ins)) || s.Returned != uint64(len(ins)) {
		t.Fatalf("stats %+v", s)
	}
}

// TestRefusedReturnIsSkipped: a return the kernel refuses is logged and
// not counted, and the ones after it still go.
func TestRefusedReturnIsSkipped(t *testing.T) {
	app := New(Config{})
	cs := &captureSender{keep: true, refuse: 2}
	app.sendBatch = cs
	e := app.newEchoer()
	for i := range 5 {
		e.handle(geneveFlow(t, uint16(i), 10, packet.AWSOptions{EndpointID: 1, Cookie: 2}), netip.MustParseAddrPort("10.20.0.50:60000"), a("10.20.1.11"), time.Now())
	}
	e.flush()
	if s := app.Stats(); len(cs.got) != 4 || s.Returned != 4 || s.Received != 5 {
		t.Fatalf("%d sent, stats %+v", len(cs.got), s)
	}
	for i, want := range []uint16{0, 1, 3, 4} {
		ip := packet.IPv4(cs.got[i].ip)
		g := packet.Geneve(packet.UDP(ip.Payload()).Payload())
		if k, _, _ := packet.ParseFlow(g.Payload()); k.SrcPort != want {
			t.Fatalf("return %d is flow %d, want %d", i, k.SrcPort, want)
		}
	}
}

// TestEchoDoesNotAllocate: receiving, judging, logging and returning a
// packet of a known flow allocates nothing, with each handler.
func TestEchoDoesNotAllocate(t *testing.T) {
	fw := &Firewall{DefaultAllow: true, TCPTimeout: time.Hour, OtherTimeout: time.Hour}
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"forward", Config{}},
		{"forward with flow log", Config{FlowLog: io.Discard, GWLBNodes: []netip.Addr{a("10.20.0.50")}}},
		{"firewall with flow log", Config{Handler: fw, FlowLog: io.Discard}},
		{"misbehaving", Config{Misbehave: Misbehave{AlterCookie: true, StripOption: 2, ReplyFromPort: 7}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := New(c.cfg)
			cs := &captureSender{refuse: -1}
			app.sendBatch = cs
			e := app.newEchoer()
			gwlb, local := netip.MustParseAddrPort("10.20.0.50:60000"), a("10.20.1.11")
			var batch [][]byte
			for i := range 10 {
				batch = append(batch, geneveFlow(t, uint16(i), 100*i, packet.AWSOptions{EndpointID: 1, Cookie: 2}))
			}
			now := time.Now()
			run := func() {
				for _, p := range batch {
					e.handle(p, gwlb, local, now)
				}
				e.flush()
			}
			run() // the flows' first packets are logged and remembered
			if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
				t.Fatalf("%v allocations per batch of %d", allocs, len(batch))
			}
			if s := app.Stats(); s.Returned != s.Received || s.Returned != uint64(cs.n) || cs.n < 100*len(batch) {
				t.Fatalf("stats %+v, %d sent", s, cs.n)
			}
		})
	}
}

// TestReceiverBatchesAndSplitsGRO sends datagrams over loopback, from two
// senders and as a GSO train where the kernel has UDP_SEGMENT, and checks
// that the receiver reads them in batches, each with its sender and the
// address it was sent to, and splits a coalesced train back into the
// datagrams that were sent.
func TestReceiverBatchesAndSplitsGRO(t *testing.T) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer pc.Close()
	r, err := newReceiver(pc)
	if err != nil {
		t.Fatal(err)
	}
	to := pc.LocalAddr().(*net.UDPAddr)
	var want [][]byte
	var from []netip.AddrPort
	senders := make([]*net.UDPConn, 2)
	for i := range senders {
		if senders[i], err = net.DialUDP("udp4", nil, to); err != nil {
			t.Fatal(err)
		}
		defer senders[i].Close()
	}
	for i := range 40 {
		d := bytes.Repeat([]byte{byte(i)}, 20+i*37)
		if _, err := senders[i%2].Write(d); err != nil {
			t.Fatal(err)
		}
		want = append(want, d)
		from = append(from, senders[i%2].LocalAddr().(*net.UDPAddr).AddrPort())
	}
	// A GSO train: 7 datagrams of 1000 bytes and one of 300, in one send.
	var train []byte
	gso := false
	if r.gro {
		for i := range 8 {
			n := 1000
			if i == 7 {
				n = 300
			}
			d := bytes.Repeat([]byte{0xe0 + byte(i)}, n)
			train = append(train, d...)
		}
		oob := make([]byte, unix.CmsgSpace(2))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
		oob[unix.CmsgLen(0)], oob[unix.CmsgLen(0)+1] = byte(1000&0xff), byte(1000>>8) // host order (little endian)
		if _, _, err := senders[0].WriteMsgUDP(train, oob, nil); err == nil {
			gso = true
			for i := range 8 {
				want = append(want, train[i*1000:min(len(train), (i+1)*1000)])
				from = append(from, senders[0].LocalAddr().(*net.UDPAddr).AddrPort())
			}
		} else {
			t.Logf("no UDP_SEGMENT: %v", err)
		}
	}
	var got [][]byte
	var gotFrom []netip.AddrPort
	reads, trains := 0, 0
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(want) {
		n, err := r.read()
		if err != nil {
			t.Fatalf("after %d datagrams: %v", len(got), err)
		}
		reads++
		for i := range n {
			payload, seg, src, local, ok := r.message(i)
			if !ok || local != a("127.0.0.1") {
				t.Fatalf("message %d: ok %v local %s", i, ok, local)
			}
			if seg < len(payload) {
				trains++
			}
			for len(payload) > 0 {
				k := min(seg, len(payload))
				got = append(got, append([]byte(nil), payload[:k]...))
				gotFrom = append(gotFrom, src)
				payload = payload[k:]
			}
		}
	}
	if reads >= len(want) {
		t.Errorf("%d reads for %d datagrams: not batched", reads, len(want))
	}
	if gso && trains == 0 {
		t.Errorf("the GSO train was not coalesced")
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) || gotFrom[i] != from[i] {
			t.Fatalf("datagram %d: %d bytes from %s, want %d from %s", i, len(got[i]), gotFrom[i], len(want[i]), from[i])
		}
	}
	t.Logf("%d datagrams in %d reads, %d coalesced trains (GRO %v, GSO %v)", len(got), reads, trains, r.gro, gso)
}

func TestParseControlIgnoresOthers(t *testing.T) {
	b := make([]byte, 3*unix.CmsgSpace(12))
	put := func(off, level, typ int, data []byte) int {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
		h.Level, h.Type = int32(level), int32(typ)
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[off+unix.CmsgLen(0):], data)
		return off + unix.CmsgSpace(len(data))
	}
	off := put(0, unix.IPPROTO_IP, unix.IP_TTL, []byte{64, 0, 0, 0})
	off = put(off, unix.IPPROTO_IP, unix.IP_PKTINFO, []byte{1, 0, 0, 0, 9, 9, 9, 9, 10, 20, 1, 11})
	off = put(off, unix.IPPROTO_UDP, unix.UDP_GRO, []byte{0xb8, 0x05, 0, 0})
	local, gso, ok := parseControl(b[:off])
	if !ok || local != a("10.20.1.11") || gso != 1464 {
		t.Fatalf("%v %s %d", ok, local, gso)
	}
	if _, _, ok := parseControl(b[:unix.CmsgSpace(4)]); ok {
		t.Fatal("found a destination address in TTL alone")
	}
}

// BenchmarkEcho measures the echo path without its system calls: judging,
// logging and queueing the return of inner UDP packets with 64 and 1400 bytes
// of payload, in
// batches of receiveBatch.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			app := New(Config{FlowLog: io.Discard, GWLBNodes: []netip.Addr{a("10.20.0.50")}})
			app.sendBatch = &captureSender{refuse: -1}
			e := app.newEchoer()
			p := geneveFlow(b, 1000, size, packet.AWSOptions{EndpointID: 1, Cookie: 2})
			gwlb, local := netip.MustParseAddrPort("10.20.0.50:60000"), a("10.20.1.11")
			now := time.Now()
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e.handle(p, gwlb, local, now)
				if i%receiveBatch == receiveBatch-1 {
					e.flush()
				}
			}
		})
	}
}

// FuzzParseControl: whatever the control buffer holds, parseControl
// neither panics nor reports an address it did not find.
func FuzzParseControl(f *testing.F) {
	b := make([]byte, unix.CmsgSpace(12)+unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(12))
	h = (*unix.Cmsghdr)(unsafe.Pointer(&b[unix.CmsgSpace(12)]))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_GRO
	h.SetLen(unix.CmsgLen(4))
	f.Add(b)
	f.Add(b[:20])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// The kernel's buffer is 8-byte aligned; so is this copy.
		al := make([]uint64, (len(b)+7)/8+1)
		c := unsafe.Slice((*byte)(unsafe.Pointer(&al[0])), len(al)*8)[:len(b)]
		copy(c, b)
		local, _, ok := parseControl(c)
		if ok != local.IsValid() {
			t.Fatalf("ok %v with address %v", ok, local)
		}
	})
}
