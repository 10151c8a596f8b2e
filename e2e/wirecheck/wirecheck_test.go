package wirecheck

import (
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/emulator/pcap"
)

// sample is one inner packet and what the decoders must see once it is
// encapsulated.
type sample struct {
	name  string
	inner []byte
	want  want
}

var (
	gwlbNode  = netip.MustParseAddr("192.168.1.22") // spec §2.1's capture
	appliance = netip.MustParseAddr("192.168.1.20")
	v4Client  = netip.MustParseAddr("10.1.11.16")
	v4Server  = netip.MustParseAddr("10.1.22.150")
	v6Client  = netip.MustParseAddr("2001:db8:0:11::10")
	v6Server  = netip.MustParseAddr("2001:db8:0:22::96")
)

func samples() []sample {
	const sport = 60672
	w := func(proto string, src, dst netip.Addr, l4 string, sp, dp int) want {
		return want{OuterSrc: gwlbNode.String(), OuterDst: appliance.String(), OuterSrcPort: sport,
			ProtoType: proto, InnerSrc: src.String(), InnerDst: dst.String(), InnerL4: l4, InnerSrcPort: sp, InnerDstPort: dp}
	}
	h4 := packet.IPHeader{Src: v4Client, Dst: v4Server, DF: true}
	h6 := packet.IPHeader{Src: v6Client, Dst: v6Server}
	syn := packet.TCPHeader{SrcPort: 32486, DstPort: 80, Seq: 0x6b8b4567, Flags: packet.TCPFlagSYN, Window: 64240, Options: packet.MSSOption(1460)}
	return []sample{
		{"ipv4 tcp", packet.AppendTCP(nil, h4, syn, nil), w("0x0800", v4Client, v4Server, "tcp", 32486, 80)},
		{"ipv4 udp", packet.AppendUDP(nil, h4, 40000, 9999, []byte("gwlb-lab")), w("0x0800", v4Client, v4Server, "udp", 40000, 9999)},
		{"ipv4 icmp", packet.AppendICMPEcho(nil, h4, false, 42, 1, []byte("ping")), w("0x0800", v4Client, v4Server, "icmp", 0, 0)},
		{"ipv6 tcp", packet.AppendTCP(nil, h6, syn, nil), w("0x86dd", v6Client, v6Server, "tcp", 32486, 80)},
		{"ipv6 udp", packet.AppendUDP(nil, h6, 40000, 9999, []byte("gwlb-lab")), w("0x86dd", v6Client, v6Server, "udp", 40000, 9999)},
		{"ipv6 icmpv6", packet.AppendICMPEcho(nil, h6, false, 42, 1, []byte("ping")), w("0x86dd", v6Client, v6Server, "icmpv6", 0, 0)},
	}
}

// encap encapsulates inner as the GWLB node sends it to the appliance, with
// the 128 bytes of headroom a port read leaves.
func encap(inner []byte) []byte {
	buf := make([]byte, 128+len(inner))
	copy(buf[128:], inner)
	p := packet.EncapParams{
		SrcMAC: packet.MAC{0x06, 0x1a, 0x2b, 0x3c, 0x4d, 0x22}, DstMAC: packet.MAC{0x06, 0x1a, 0x2b, 0x3c, 0x4d, 0x20},
		Src: gwlbNode, Dst: appliance, SrcPort: 60672, TTL: 64, DF: true, UDPChecksum: true,
		Options: packet.AWSOptions{EndpointID: 0x8f1a2b3c4d5e6f70, Cookie: 0x5f3e2a1b},
	}
	start, err := packet.Encap(buf, 128, len(inner), &p)
	Expect(err).NotTo(HaveOccurred())
	return buf[start:]
}

// refresh recomputes the outer IPv4 and UDP checksums after a mutation, so
// that a bad frame is wrong only where it is meant to be.
func refresh(frame []byte) []byte {
	ip := packet.IPv4(frame[packet.EthernetLen:])
	ip.ComputeChecksum()
	packet.UDP(ip.Payload()).ComputeChecksum(ip.Src(), ip.Dst())
	return frame
}

// Offsets in an Encap frame.
const (
	genOff    = packet.EthernetLen + packet.IPv4Len + packet.UDPLen // GENEVE header
	optOff    = genOff + packet.GeneveLen                           // first option
	cookieOff = optOff + 24                                         // option type 3 header
)

// badFrame is a GWLB frame with one deliberate mistake.
type badFrame struct {
	name    string
	frame   []byte
	tshark  string // the field the tshark check must name
	tcpdump string // what tcpdump prints instead, which its check must quote
}

// badFrames are GWLB frames with one deliberate mistake each; the checks
// must catch every one, naming it.
func badFrames(inner []byte) []badFrame {
	vni1 := encap(inner)
	packet.Geneve(vni1[genOff:]).SetVNI(1)

	class0109 := encap(inner)
	binary.BigEndian.PutUint16(class0109[optOff:], 0x0109)

	// The cookie option claims 8 bytes of data instead of 4: insert 4
	// bytes and fix every length so the frame is otherwise consistent.
	good := encap(inner)
	longCookie := append(append(append([]byte(nil), good[:cookieOff+8]...), 0, 0, 0, 0), good[cookieOff+8:]...)
	longCookie[cookieOff+3] = 2
	packet.Geneve(longCookie[genOff:]).SetOptionsLen(packet.AWSOptionsLen + 4)
	ip := packet.IPv4(longCookie[packet.EthernetLen:])
	ip.SetTotalLen(ip.TotalLen() + 4)
	u := packet.UDP(longCookie[packet.EthernetLen+packet.IPv4Len:])
	u.SetLength(u.Length() + 4)

	return []badFrame{
		{"vni 1", refresh(vni1), "geneve.vni = 0x000001", "vni 0x1"},
		{"option class 0x0109", refresh(class0109), "geneve.option.class = [0x0109", "class Unknown (0x109)"},
		{"cookie option length 2", refresh(longCookie), "geneve.option.length = [36 12 12 12]", "options [36 bytes]"},
	}
}

func writePcap(path string, frames [][]byte) {
	f, err := os.Create(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	w, err := pcap.NewWriter(f)
	Expect(err).NotTo(HaveOccurred())
	ts := time.Unix(1700000000, 0)
	for i, fr := range frames {
		Expect(w.WritePacket(ts.Add(time.Duration(i)*time.Millisecond), fr)).To(Succeed())
	}
	Expect(f.Close()).To(Succeed())
}

var _ = Describe("GWLB encapsulation as independent decoders see it", Ordered, func() {
	var (
		good                = samples()
		bad                 = badFrames(good[0].inner)
		goodShark, badShark []tsharkFrame
		goodDump, badDump   []dump
	)

	BeforeAll(func(ctx SpecContext) {
		for _, tool := range []string{"tshark", "tcpdump"} {
			if _, err := exec.LookPath(tool); err != nil {
				Skip(tool + " is not installed (scripts/deps.sh installs it; Debian: apt-get install " + tool + ")")
			}
		}
		dir := GinkgoT().TempDir()
		var frames [][]byte
		for _, s := range good {
			frames = append(frames, encap(s.inner))
		}
		goodPath := filepath.Join(dir, "good.pcap")
		writePcap(goodPath, frames)
		frames = nil
		for _, b := range bad {
			frames = append(frames, b.frame)
		}
		badPath := filepath.Join(dir, "bad.pcap")
		writePcap(badPath, frames)

		var err error
		goodShark, err = runTshark(ctx, goodPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(goodShark).To(HaveLen(len(good)))
		badShark, err = runTshark(ctx, badPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(badShark).To(HaveLen(len(bad)))
		goodDump, err = runTcpdump(ctx, goodPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(goodDump).To(HaveLen(len(good)))
		badDump, err = runTcpdump(ctx, badPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(badDump).To(HaveLen(len(bad)))
	}, NodeTimeout(2*time.Minute))

	Describe("frames built by packet.Encap", func() {
		for i, s := range good {
			It("tshark decodes "+s.name+" as GWLB GENEVE with the AWS options", func() {
				Expect(checkTshark(goodShark[i], s.want)).To(Succeed())
			})
			It("tcpdump prints "+s.name+" as it prints real GWLB traffic", func() {
				Expect(checkTcpdump(goodDump[i], s.want)).To(Succeed())
			})
		}
	})

	Describe("frames built wrong on purpose", func() {
		want := good[0].want
		for i, b := range bad {
			It("the tshark check rejects "+b.name, func() {
				Expect(checkTshark(badShark[i], want)).To(MatchError(ContainSubstring(b.tshark)))
			})
			It("the tcpdump check rejects "+b.name, func() {
				Expect(checkTcpdump(badDump[i], want)).To(MatchError(ContainSubstring(b.tcpdump)))
			})
		}
	})
})
