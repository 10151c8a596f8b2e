package packet

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden frames. Addresses and ports are the real capture values of spec
// §2.1; the GENEVE header follows spec §2.3 byte for byte. Every checksum was
// verified independently with tshark 4.0.17 (text2pcap, then
// -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o
// udp.check_checksum:TRUE), not with this package.

// goldenSYN: ingress via ALB, GWLB node 192.168.1.22 -> appliance
// 192.168.1.20, sport 60672, carrying the client's SYN 10.1.11.16:32486 ->
// 10.1.22.150:80. Outer UDP checksum computed.
const goldenSYN = `
061a2b3c4d20 061a2b3c4d22 0800                  # Ethernet: to the appliance, from the GWLB node
45000080 00004000 4011b6f2 c0a80116 c0a80114    # IPv4, len 128, DF, TTL 64, UDP, 192.168.1.22 -> 192.168.1.20
ed0017c1 006c9313                               # UDP 60672 -> 6081, len 108
08000800 00000000                               # GENEVE ver 0, opt len 8 (32 bytes), no flags, 0x0800, VNI 0
01080102 8f1a2b3c4d5e6f70                       # 0x0108 type 1 len 2: vpce-08f1a2b3c4d5e6f70
01080202 0000000000000000                       # 0x0108 type 2 len 2: attachment id 0
01080301 5f3e2a1b                               # 0x0108 type 3 len 1: flow cookie
4500003c 8a2f4000 40067ae5 0a010b10 0a011696    # inner IPv4 10.1.11.16 -> 10.1.22.150, DF, TTL 64
7ee60050 6b8b4567 00000000 a002faf0 a4ef0000    # TCP 32486 -> 80, SYN, data offset 10, win 64240
020405b4 0402080a 000f4240 00000000 01030307    # MSS 1460, SACK permitted, TS 1000000/0, NOP, WS 7
`

// goldenICMP: egress via NAT GW, sport 60919, echo request 10.0.21.243 ->
// 99.84.67.74. Outer UDP checksum 0 (allowed over IPv4).
const goldenICMP = `
061a2b3c4d20 061a2b3c4d22 0800
45000090 00004000 4011b6e2 c0a80116 c0a80114    # IPv4, len 144
edf717c1 007c0000                               # UDP 60919 -> 6081, len 124, no checksum
08000800 00000000
01080102 8f1a2b3c4d5e6f70
01080202 0000000000000000
01080301 9c4e1d07
4500004c 3b7a4000 400138a6 0a0015f3 6354434a    # inner IPv4 10.0.21.243 -> 99.84.67.74, ICMP
0800e2ad 002a0001                               # echo request, id 42, seq 1
6553f10000000000 101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f 3031323334353637
`

// goldenICMPv6: a dualstack GWLB still encapsulates in IPv4 (spec §2.1);
// protocol type 0x86DD, inner ICMPv6 echo request.
const goldenICMPv6 = `
061a2b3c4d20 061a2b3c4d22 0800
4500007c 00004000 4011b6f6 c0a80116 c0a80114    # IPv4, len 124
ef3217c1 0068cfcd                               # UDP 61234 -> 6081, len 104
080086dd 00000000                               # GENEVE, protocol 0x86DD
01080102 8f1a2b3c4d5e6f70
01080202 0000000000000000
01080301 0badf00d
60000000 00103a40                               # IPv6, payload 16, ICMPv6, hop limit 64
20010db8000000110000000000000010                # 2001:db8:0:11::10
20010db8000000220000000000000096                # 2001:db8:0:22::96
80005153 12340001 deadbeef00112233              # echo request, id 0x1234, seq 1
`

// goldenGeneve is spec §2.3's layout with its placeholder values.
const goldenGeneve = `
08 00 08 00  00 00 00 00
01 08 01 02  ee ee ee ee ee ee ee ee
01 08 02 02  aa aa aa aa aa aa aa aa
01 08 03 01  cc cc cc cc
`

const (
	goldenARPRequest = `ffffffffffff 061a2b3c4d96 0806  0001 0800 06 04 0001  061a2b3c4d96 0a011696  000000000000 0a011601`
	goldenARPReply   = `061a2b3c4d96 061a2b3c4d01 0806  0001 0800 06 04 0002  061a2b3c4d01 0a011601  061a2b3c4d96 0a011696`
)

var (
	macAppliance = MAC{0x06, 0x1a, 0x2b, 0x3c, 0x4d, 0x20}
	macGWLB      = MAC{0x06, 0x1a, 0x2b, 0x3c, 0x4d, 0x22}
)

const endpointID = 0x8f1a2b3c4d5e6f70

// gwlbParams are the outer headers of the golden frames.
func gwlbParams(sport uint16, udpChecksum bool, cookie uint32) EncapParams {
	return EncapParams{
		SrcMAC: macGWLB, DstMAC: macAppliance,
		Src: addr("192.168.1.22"), Dst: addr("192.168.1.20"),
		SrcPort: sport, TTL: 64, DF: true, UDPChecksum: udpChecksum,
		Options: AWSOptions{EndpointID: endpointID, Cookie: cookie},
	}
}

type decapSummary struct {
	EthDst, EthSrc   MAC
	OuterSrc         string
	OuterDst         string
	TTL              uint8
	DF               bool
	SrcPort, DstPort uint16
	UDPChecksum      uint16
	GeneveVersion    uint8
	OptionsLen       int
	OAM, Critical    bool
	Protocol         uint16
	VNI              uint32
	Options          AWSOptions
	Endpoint         string
	InnerOffset      int
}

func summarize(frame []byte, d Decapped) decapSummary {
	return decapSummary{
		EthDst: d.Ethernet.Dst(), EthSrc: d.Ethernet.Src(),
		OuterSrc: d.Outer.Src().String(), OuterDst: d.Outer.Dst().String(),
		TTL: d.Outer.TTL(), DF: d.Outer.DF(),
		SrcPort: d.UDP.SrcPort(), DstPort: d.UDP.DstPort(), UDPChecksum: d.UDP.Checksum(),
		GeneveVersion: d.Geneve.Version(), OptionsLen: d.Geneve.OptionsLen(),
		OAM: d.Geneve.OAM(), Critical: d.Geneve.Critical(),
		Protocol: d.Geneve.Protocol(), VNI: d.Geneve.VNI(),
		Options: d.Options, Endpoint: d.Options.EndpointName(),
		InnerOffset: len(frame) - len(d.Inner),
	}
}

func TestGoldenGWLBFrames(t *testing.T) {
	tcpOpts := unhex(t, "020405b4 0402080a 000f4240 00000000 01030307")
	icmpData := unhex(t, "6553f10000000000 101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f 3031323334353637")
	tests := []struct {
		name     string
		golden   string
		params   EncapParams
		inner    []byte // built independently of the golden with the Append builders
		wantFlow FlowKey
		wantInfo FlowInfo
		wantUDP  uint16
	}{
		{
			name:   "tcp syn via alb",
			golden: goldenSYN,
			params: gwlbParams(60672, true, 0x5f3e2a1b),
			inner: AppendTCP(nil, IPHeader{Src: addr("10.1.11.16"), Dst: addr("10.1.22.150"), ID: 0x8a2f, DF: true},
				TCPHeader{SrcPort: 32486, DstPort: 80, Seq: 0x6b8b4567, Flags: TCPFlagSYN, Window: 64240, Options: tcpOpts}, nil),
			wantFlow: FlowKey{Src: addr("10.1.11.16"), Dst: addr("10.1.22.150"), SrcPort: 32486, DstPort: 80, Proto: ProtoTCP},
			wantInfo: FlowInfo{Version: 4, L4Offset: 20, TCPFlags: TCPFlagSYN},
			wantUDP:  0x9313,
		},
		{
			name:     "icmp echo via nat gw",
			golden:   goldenICMP,
			params:   gwlbParams(60919, false, 0x9c4e1d07),
			inner:    AppendICMPEcho(nil, IPHeader{Src: addr("10.0.21.243"), Dst: addr("99.84.67.74"), ID: 0x3b7a, DF: true}, false, 42, 1, icmpData),
			wantFlow: FlowKey{Src: addr("10.0.21.243"), Dst: addr("99.84.67.74"), Proto: ProtoICMP},
			wantInfo: FlowInfo{Version: 4, L4Offset: 20},
		},
		{
			name:     "icmpv6 echo",
			golden:   goldenICMPv6,
			params:   gwlbParams(61234, true, 0x0badf00d),
			inner:    AppendICMPEcho(nil, IPHeader{Src: addr("2001:db8:0:11::10"), Dst: addr("2001:db8:0:22::96")}, false, 0x1234, 1, unhex(t, "deadbeef00112233")),
			wantFlow: FlowKey{Src: addr("2001:db8:0:11::10"), Dst: addr("2001:db8:0:22::96"), Proto: ProtoICMPv6},
			wantInfo: FlowInfo{Version: 6, L4Offset: 40},
			wantUDP:  0xcfcd,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := unhex(t, tt.golden)

			// Decode.
			d, err := Decap(frame)
			if err != nil {
				t.Fatalf("Decap: %v", err)
			}
			proto := uint16(EtherTypeIPv4)
			if tt.wantFlow.Src.Is6() {
				proto = EtherTypeIPv6
			}
			want := decapSummary{
				EthDst: macAppliance, EthSrc: macGWLB,
				OuterSrc: "192.168.1.22", OuterDst: "192.168.1.20", TTL: 64, DF: true,
				SrcPort: tt.params.SrcPort, DstPort: 6081, UDPChecksum: tt.wantUDP,
				OptionsLen: 32, Protocol: proto,
				Options: tt.params.Options, Endpoint: "vpce-08f1a2b3c4d5e6f70",
				InnerOffset: 82,
			}
			if diff := cmp.Diff(want, summarize(frame, d)); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			if !d.UDP.ChecksumValid(d.Outer.Src(), d.Outer.Dst()) {
				t.Error("outer UDP checksum does not verify")
			}
			key, info, err := ParseFlow(d.Inner)
			if err != nil {
				t.Fatalf("ParseFlow: %v", err)
			}
			if diff := cmp.Diff(tt.wantFlow, key, cmpOpts); diff != "" {
				t.Errorf("flow key (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantInfo, info); diff != "" {
				t.Errorf("flow info (-want +got):\n%s", diff)
			}

			// Re-encode: the inner packet from the builders, then Encap.
			if !bytes.Equal(tt.inner, d.Inner) {
				t.Errorf("built inner packet differs:\n got %x\nwant %x", tt.inner, d.Inner)
			}
			buf, off := withHeadroom(tt.inner)
			start, err := Encap(buf, off, len(tt.inner), &tt.params)
			if err != nil {
				t.Fatalf("Encap: %v", err)
			}
			if got := buf[start:]; !bytes.Equal(got, frame) {
				t.Errorf("Encap differs from golden:\n got %x\nwant %x", got, frame)
			}
		})
	}
}

// The offsets AWS's own tcpdump filters use (spec §2.3).
func TestGoldenInnerOffsets(t *testing.T) {
	f := unhex(t, goldenSYN)
	if got := f[91]; got != ProtoTCP {
		t.Errorf("frame[91] = %d, want inner protocol 6", got)
	}
	if got, want := f[94:98], []byte{10, 1, 11, 16}; !bytes.Equal(got, want) {
		t.Errorf("frame[94:98] = %v, want inner src %v", got, want)
	}
	if got, want := f[98:102], []byte{10, 1, 22, 150}; !bytes.Equal(got, want) {
		t.Errorf("frame[98:102] = %v, want inner dst %v", got, want)
	}
	if EncapOverhead != 68 || EncapLen != 82 {
		t.Errorf("EncapOverhead, EncapLen = %d, %d; want 68, 82", EncapOverhead, EncapLen)
	}
}

func TestGoldenGeneveLayout(t *testing.T) {
	for _, proto := range []uint16{EtherTypeIPv4, EtherTypeIPv6} {
		g := Geneve(unhex(t, goldenGeneve))
		g[2], g[3] = byte(proto>>8), byte(proto)
		if err := g.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		type opt struct {
			Class    uint16
			Type     uint8
			Critical bool
			Data     string
		}
		var got []opt
		it := g.Options()
		for it.Next() {
			o := it.Option()
			got = append(got, opt{o.Class(), o.Type(), o.Critical(), string(o.Data())})
		}
		if err := it.Err(); err != nil {
			t.Fatalf("options: %v", err)
		}
		want := []opt{
			{0x0108, 1, false, "\xee\xee\xee\xee\xee\xee\xee\xee"},
			{0x0108, 2, false, "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"},
			{0x0108, 3, false, "\xcc\xcc\xcc\xcc"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("options (-want +got):\n%s", diff)
		}
		if g.Version() != 0 || g.OptionsLen() != 32 || g.HeaderLen() != 40 || g.OAM() || g.Critical() || g.Protocol() != proto || g.VNI() != 0 {
			t.Errorf("header fields: ver %d optlen %d oam %v crit %v proto %#x vni %d", g.Version(), g.OptionsLen(), g.OAM(), g.Critical(), g.Protocol(), g.VNI())
		}
		o, err := g.AWSOptions()
		if err != nil {
			t.Fatalf("AWSOptions: %v", err)
		}
		wantOpts := AWSOptions{EndpointID: 0xeeeeeeeeeeeeeeee, AttachmentID: 0xaaaaaaaaaaaaaaaa, Cookie: 0xcccccccc}
		if o != wantOpts {
			t.Errorf("AWSOptions = %+v, want %+v", o, wantOpts)
		}

		re := make([]byte, 40)
		if err := PutGeneve(re, AWSOptionsLen, false, false, proto, 0); err != nil {
			t.Fatal(err)
		}
		PutAWSOptions(re[GeneveLen:], o)
		if !bytes.Equal(re, g) {
			t.Errorf("re-encoded\n %x\nwant %x", re, []byte(g))
		}
	}
}

func TestGoldenARP(t *testing.T) {
	mac150, mac1 := MAC{0x06, 0x1a, 0x2b, 0x3c, 0x4d, 0x96}, MAC{0x06, 0x1a, 0x2b, 0x3c, 0x4d, 0x01}
	ip150, ip1 := addr("10.1.22.150"), addr("10.1.22.1")
	type fields struct {
		EthDst, EthSrc MAC
		EthType        uint16
		Op             uint16
		SHA, THA       MAC
		SPA, TPA       string
	}
	tests := []struct {
		name   string
		golden string
		build  []byte
		want   fields
	}{
		{"request", goldenARPRequest, AppendARPRequest(nil, mac150, ip150, ip1),
			fields{MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac150, EtherTypeARP, ARPRequest, mac150, MAC{}, "10.1.22.150", "10.1.22.1"}},
		{"reply", goldenARPReply, AppendARPReply(nil, mac1, ip1, mac150, ip150),
			fields{mac150, mac1, EtherTypeARP, ARPReply, mac1, mac150, "10.1.22.1", "10.1.22.150"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := unhex(t, tt.golden)
			e := Ethernet(f)
			if err := e.Validate(); err != nil {
				t.Fatal(err)
			}
			a := ARP(e.Payload())
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			got := fields{e.Dst(), e.Src(), e.Type(), a.Op(), a.SenderMAC(), a.TargetMAC(), a.SenderIP().String(), a.TargetIP().String()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			if !bytes.Equal(tt.build, f) {
				t.Errorf("built\n %x\nwant %x", tt.build, f)
			}
		})
	}
}
