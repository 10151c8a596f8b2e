package offload

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

var (
	macA = packet.MAC{2, 0, 0, 0, 0, 1}
	macB = packet.MAC{2, 0, 0, 0, 0, 2}
	v4a  = netip.MustParseAddr("10.0.1.10")
	v4b  = netip.MustParseAddr("203.0.113.10")
	v6a  = netip.MustParseAddr("2001:db8::10")
	v6b  = netip.MustParseAddr("2001:db8:1::20")
	// Timestamps as Linux sends them: NOP, NOP, TS.
	tsOpt = []byte{1, 1, 8, 10, 0, 0, 1, 2, 0, 0, 3, 4}
)

// case_ is one super-frame to split: what the node's TCP or UDP sent.
type case_ struct {
	v6, udp bool
	mss     int
	payload []byte
	flags   uint8
	opts    []byte
	id      uint16
	seq     uint32
}

func (c case_) addrs() (netip.Addr, netip.Addr) {
	if c.v6 {
		return v6a, v6b
	}
	return v4a, v4b
}

// ipHeader is the network layer of segment i.
func (c case_) ipHeader(i int) packet.IPHeader {
	src, dst := c.addrs()
	return packet.IPHeader{Src: src, Dst: dst, TTL: 61, TOS: 0x10, ID: c.id + uint16(i), DF: true, FlowLabel: 0x12345}
}

// packet builds the packet of payload p with flags fl, id index i and
// sequence number seq, plainly, with the package's builders.
func (c case_) packet(i int, seq uint32, fl uint8, p []byte) []byte {
	var ip []byte
	if c.udp {
		ip = packet.AppendUDP(nil, c.ipHeader(i), 4000, 53, p)
	} else {
		ip = packet.AppendTCP(nil, c.ipHeader(i), packet.TCPHeader{
			SrcPort: 40000, DstPort: 80, Seq: seq, Ack: 777, Flags: fl, Window: 501, Options: c.opts,
		}, p)
	}
	return packet.AppendFrame(nil, macB, macA, ip)
}

// superFrame is the frame and virtio-net header the node's kernel hands
// over for the case: one packet with all the payload, its transport
// checksum partial (the pseudo-header sum only).
func (c case_) superFrame() ([]byte, Hdr) {
	f := c.packet(0, c.seq, c.flags, c.payload)
	l4 := 14 + 20
	gt, off := uint8(GSOTCPv4), 16
	if c.v6 {
		l4, gt = 14+40, GSOTCPv6
	}
	if c.udp {
		gt, off = GSOUDPL4, 6
	}
	proto := uint8(protoTCP)
	if c.udp {
		proto = protoUDP
	}
	binary.BigEndian.PutUint16(f[l4+off:], pseudoSum(f[14:], c.v6, proto, len(f)-l4))
	hl := l4 + 8
	if !c.udp {
		hl = l4 + 20 + len(c.opts)
	}
	return f, Hdr{Flags: FlagNeedsCsum, GSOType: gt, HdrLen: uint16(hl), GSOSize: uint16(c.mss), CsumStart: uint16(l4), CsumOffset: uint16(off)}
}

// reference segments the case the plain way: one packet built per
// segment, with tcp_gso_segment's flag rules.
func (c case_) reference() [][]byte {
	var out [][]byte
	for i, off := 0, 0; off < len(c.payload); i, off = i+1, off+c.mss {
		end := min(off+c.mss, len(c.payload))
		fl := c.flags
		if end < len(c.payload) {
			fl &^= tcpFIN | tcpPSH
		}
		if i > 0 {
			fl &^= tcpCWR
		}
		out = append(out, c.packet(i, c.seq+uint32(off), fl, c.payload[off:end]))
	}
	return out
}

func randomCase(r *rand.Rand) case_ {
	c := case_{v6: r.IntN(2) == 0, udp: r.IntN(4) == 0, mss: 500 + r.IntN(8500), id: uint16(r.Uint32()), seq: r.Uint32()}
	c.payload = make([]byte, 1+r.IntN(65000-c.mss))
	for i := range c.payload {
		c.payload[i] = byte(r.Uint32())
	}
	c.flags = tcpACK | []uint8{0, tcpPSH, tcpPSH | tcpFIN, tcpCWR, tcpCWR | tcpECE | tcpPSH}[r.IntN(5)]
	if r.IntN(2) == 0 {
		c.opts = tsOpt
	}
	return c
}

func split(t testing.TB, f []byte, h Hdr) [][]byte {
	t.Helper()
	var s Segmenter
	if err := s.Reset(f, h); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	var out [][]byte
	buf := make([]byte, 10000)
	for s.Pending() {
		n, err := s.Next(buf)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
	return out
}

// checkValid checks a frame's IP and transport checksums and lengths.
func checkValid(t testing.TB, f []byte) {
	t.Helper()
	ip := f[14:]
	var src, dst netip.Addr
	var proto uint8
	var seg []byte
	if ip[0]>>4 == 4 {
		h := packet.IPv4(ip)
		if !h.ChecksumValid() || int(h.TotalLen()) != len(ip) {
			t.Fatalf("IPv4 header: checksum valid %v, total length %d for %d bytes", h.ChecksumValid(), h.TotalLen(), len(ip))
		}
		src, dst, proto, seg = h.Src(), h.Dst(), h.Protocol(), ip[20:]
	} else {
		h := packet.IPv6(ip)
		if int(h.PayloadLen()) != len(ip)-40 {
			t.Fatalf("IPv6 payload length %d for %d bytes", h.PayloadLen(), len(ip)-40)
		}
		src, dst, proto, seg = h.Src(), h.Dst(), h.NextHeader(), ip[40:]
	}
	if packet.TransportChecksum(proto, src, dst, seg) != 0 {
		t.Fatalf("transport checksum wrong")
	}
}

func TestSplitMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		c := randomCase(r)
		if i < 4 { // the corners: one byte, exactly one segment, one more
			c.payload = c.payload[:[]int{1, c.mss, c.mss + 1, 2 * c.mss}[i]]
		}
		t.Run(fmt.Sprintf("%d_v6=%v_udp=%v_mss=%d_len=%d", i, c.v6, c.udp, c.mss, len(c.payload)), func(t *testing.T) {
			f, h := c.superFrame()
			got, want := split(t, f, h), c.reference()
			if len(got) != len(want) {
				t.Fatalf("%d segments, want %d", len(got), len(want))
			}
			for k := range want {
				if !bytes.Equal(got[k], want[k]) {
					t.Fatalf("segment %d:\n got %x\nwant %x", k, got[k][:80], want[k][:80])
				}
				checkValid(t, got[k])
				if hl := len(got[k]) - int(h.HdrLen); hl > c.mss {
					t.Fatalf("segment %d carries %d bytes, more than the MSS %d", k, hl, c.mss)
				}
			}
		})
	}
}

func TestSplitRefuses(t *testing.T) {
	c := case_{mss: 1000, payload: make([]byte, 3000), flags: tcpACK}
	f, h := c.superFrame()
	for name, mod := range map[string]func(f []byte, h *Hdr){
		"UFO":               func(_ []byte, h *Hdr) { h.GSOType = GSOUDP },
		"TCPv6 on IPv4":     func(_ []byte, h *Hdr) { h.GSOType = GSOTCPv6 },
		"UDP_L4 on TCP":     func(_ []byte, h *Hdr) { h.GSOType = GSOUDPL4 },
		"zero size":         func(_ []byte, h *Hdr) { h.GSOSize = 0 },
		"wrong csum start":  func(_ []byte, h *Hdr) { h.CsumStart = 14 },
		"fragment":          func(f []byte, _ *Hdr) { f[14+6] |= 0x20 },
		"ARP":               func(f []byte, _ *Hdr) { f[12], f[13] = 0x08, 0x06 },
		"short data offset": func(f []byte, _ *Hdr) { f[14+20+12] = 0x40 },
	} {
		g, hh := bytes.Clone(f), h
		mod(g, &hh)
		var s Segmenter
		if err := s.Reset(g, hh); err == nil {
			t.Errorf("%s: Reset accepted it", name)
		}
	}
	var s Segmenter
	if err := s.Reset(f, h); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(make([]byte, 100)); err != ErrTooLong {
		t.Fatalf("Next into 100 bytes: %v, want ErrTooLong", err)
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, c := range []case_{{payload: []byte("hello"), flags: tcpACK | tcpPSH}, {v6: true, udp: true, payload: []byte("abc")}} {
		want := c.packet(0, 0, c.flags, c.payload)
		f, h := c.superFrame()
		h.GSOType = GSONone
		if bytes.Equal(f, want) {
			t.Fatal("the partial checksum is the full one: the test proves nothing")
		}
		if err := CompleteChecksum(f, h); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f, want) {
			t.Fatalf("completed\n got %x\nwant %x", f, want)
		}
	}
}

// stream is n consecutive full segments of one TCP flow.
func stream(c case_, n int) [][]byte {
	c.payload = make([]byte, n*c.mss)
	for i := range c.payload {
		c.payload[i] = byte(i * 7)
	}
	return c.reference()
}

// written reconstructs what Write puts on the wire for each item of the
// plan: the frame itself, or the coalesced header and the payloads.
func written(t *testing.T, co *Coalescer, frames [][]byte) (out [][]byte, hdrs []Hdr, members [][]int) {
	t.Helper()
	for i := range co.Items() {
		first, count := co.Item(i)
		var m []int
		for j := first; j >= 0; j = co.Next(j) {
			m = append(m, j)
		}
		if len(m) != count {
			t.Fatalf("item %d: %d members walked, Item says %d", i, len(m), count)
		}
		members = append(members, m)
		if count == 1 {
			out, hdrs = append(out, frames[first]), append(hdrs, Hdr{})
			continue
		}
		buf := make([]byte, MaxHeader)
		n := co.Header(i, frames[first], buf)
		f := bytes.Clone(buf[HdrLen:n])
		for _, j := range m {
			f = append(f, co.Payload(frames[j], j)...)
		}
		out, hdrs = append(out, f), append(hdrs, ParseHdr(buf))
	}
	return
}

func TestCoalesceRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 100 {
		c := randomCase(r)
		c.udp, c.flags = false, tcpACK
		c.mss = 500 + r.IntN(1000)
		segs := stream(c, 1+r.IntN(40))
		// The last one is short and pushes, as a write's tail does.
		last := segs[len(segs)-1]
		segs[len(segs)-1] = c.packet(len(segs)-1, c.seq+uint32((len(segs)-1)*c.mss), tcpACK|tcpPSH, last[len(last)-c.mss:len(last)-c.mss/2])
		// Interleave another flow and a UDP datagram.
		o := c
		o.seq += 1 << 20
		other := stream(o, 3)
		for k := range other {
			other[k][14+(map[bool]int{true: 40, false: 20})[c.v6]+1]++ // another source port
			binary.BigEndian.PutUint16(other[k][14+(map[bool]int{true: 40, false: 20})[c.v6]+16:], 0)
			other[k] = fixTCP(other[k])
		}
		frames := append([][]byte{}, segs[:len(segs)/2]...)
		frames = append(frames, other...)
		frames = append(frames, case_{udp: true}.packet(0, 0, 0, []byte("dns")))
		frames = append(frames, segs[len(segs)/2:]...)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var co Coalescer
			co.Plan(frames, 0)
			out, hdrs, members := written(t, &co, frames)
			var replay [][]byte
			for k, f := range out {
				if len(members[k]) == 1 {
					replay = append(replay, f)
					continue
				}
				if len(f)-14 > 0xffff {
					t.Fatalf("coalesced IP packet of %d bytes", len(f)-14)
				}
				// Split back, the coalesced frame is its members.
				for s, seg := range split(t, f, hdrs[k]) {
					if !bytes.Equal(seg, frames[members[k][s]]) {
						t.Fatalf("item %d segment %d differs from frame %d", k, s, members[k][s])
					}
				}
				for _, j := range members[k] {
					replay = append(replay, frames[j])
				}
			}
			// Per flow, the frames come out in their order.
			if got, want := flowOrder(replay), flowOrder(frames); !equalOrders(got, want) {
				t.Fatalf("per-flow order changed:\n got %v\nwant %v", got, want)
			}
			if len(out) > 4+len(segs)/MaxCoalesced+2 {
				t.Fatalf("%d writes for %d frames of two TCP flows and a datagram: runs were not coalesced", len(out), len(frames))
			}
		})
	}
}

// fixTCP recomputes the TCP checksum of a frame.
func fixTCP(f []byte) []byte {
	ip := f[14:]
	if ip[0]>>4 == 4 {
		h := packet.IPv4(ip)
		packet.TCP(ip[20:]).ComputeChecksum(h.Src(), h.Dst())
	} else {
		h := packet.IPv6(ip)
		packet.TCP(ip[40:]).ComputeChecksum(h.Src(), h.Dst())
	}
	return f
}

// flowOrder lists each flow's frames (by their bytes' identity) in order.
func flowOrder(frames [][]byte) map[string][]string {
	m := map[string][]string{}
	for _, f := range frames {
		fi := classify(f, true)
		key, id := "other", fmt.Sprintf("%x", f)
		if fi.tcp {
			key, id = string(f[fi.l4:fi.l4+4]), fmt.Sprintf("%x", f[fi.l4+4:fi.l4+8])
		} else if fi.udp {
			key, id = fmt.Sprint("udp", f[:fi.l3], f[fi.l3+8:fi.l4], f[fi.l4:fi.l4+4]), fmt.Sprintf("%x", f[fi.hdrEnd:])
		}
		m[key] = append(m[key], id)
	}
	return m
}

func equalOrders(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if fmt.Sprint(v) != fmt.Sprint(b[k]) {
			return false
		}
	}
	return true
}

func TestCoalesceKeepsApart(t *testing.T) {
	c := case_{mss: 1000, flags: tcpACK, seq: 100, id: 7}
	for name, mod := range map[string]func(segs [][]byte){
		"bad TCP checksum": func(s [][]byte) { s[1][len(s[1])-1] ^= 0xff },
		"bad IP checksum":  func(s [][]byte) { s[1][14+10] ^= 0xff },
		"sequence gap": func(s [][]byte) {
			binary.BigEndian.PutUint32(s[1][14+20+4:], 100+1001)
			fixTCP(s[1])
		},
		"other ack": func(s [][]byte) {
			binary.BigEndian.PutUint32(s[1][14+20+8:], 1)
			fixTCP(s[1])
		},
		"PSH on the first": func(s [][]byte) {
			s[0][14+20+13] |= tcpPSH
			fixTCP(s[0])
		},
		"FIN": func(s [][]byte) {
			s[1][14+20+13] |= tcpFIN
			fixTCP(s[1])
		},
	} {
		segs := stream(c, 2)
		mod(segs)
		var co Coalescer
		co.Plan(segs, 0)
		if co.Items() != 2 {
			t.Errorf("%s: %d writes, want the 2 frames apart", name, co.Items())
		}
	}
	segs := stream(c, 3)
	var co Coalescer
	co.Plan(segs, 0)
	if co.Items() != 1 {
		t.Fatalf("3 clean segments: %d writes, want 1", co.Items())
	}
	// A pure ACK of the flow between segments ends the run: it is not
	// overtaken by the segments after it.
	ack := c.packet(1, 100+1000, tcpACK, nil)
	co.Plan([][]byte{segs[0], ack, segs[1], segs[2]}, 0)
	if co.Items() != 3 {
		t.Fatalf("segment, ACK, 2 segments: %d writes, want 3", co.Items())
	}
}

func TestNoAllocs(t *testing.T) {
	c := case_{mss: 1448, payload: make([]byte, 60000), flags: tcpACK | tcpPSH, opts: tsOpt}
	f, h := c.superFrame()
	work := bytes.Clone(f)
	buf := make([]byte, 1600)
	var s Segmenter
	if a := testing.AllocsPerRun(50, func() {
		copy(work, f)
		s.Reset(work, h)
		for s.Pending() {
			s.Next(buf)
		}
	}); a != 0 {
		t.Errorf("split: %v allocations per super-frame", a)
	}
	frames := c.reference()
	hdr := make([]byte, MaxHeader)
	var co Coalescer
	co.Plan(frames, 0)
	if a := planAllocs(&co, frames, hdr); a != 0 {
		t.Errorf("coalesce: %v allocations per batch", a)
	}
}

// planAllocs is how many allocations planning frames and building each
// coalesced write's header (into hdr) costs.
func planAllocs(co *Coalescer, frames [][]byte, hdr []byte) float64 {
	return testing.AllocsPerRun(50, func() {
		co.Plan(frames, 0)
		for i := range co.Items() {
			if first, n := co.Item(i); n > 1 {
				co.Header(i, frames[first], hdr)
			}
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	c := case_{mss: 1448, payload: make([]byte, 64000), flags: tcpACK, opts: tsOpt}
	f, h := c.superFrame()
	buf := make([]byte, 1600)
	var s Segmenter
	b.SetBytes(int64(len(f)))
	for b.Loop() {
		s.Reset(f, h)
		for s.Pending() {
			s.Next(buf)
		}
	}
}

func BenchmarkCoalesce(b *testing.B) {
	c := case_{mss: 1448, flags: tcpACK, opts: tsOpt}
	frames := stream(c, 44)
	hdr := make([]byte, MaxHeader)
	var co Coalescer
	b.SetBytes(int64(44 * 1500))
	for b.Loop() {
		co.Plan(frames, 0)
		co.Header(0, frames[0], hdr)
	}
}
