package packet

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Round trips set every field to a non-zero value with the setters, compare
// the bytes with hand-written hex (pinning the layout), and read the fields
// back with the accessors. A zero-only round trip would hide a swapped or
// misplaced field.

func TestEthernetRoundTrip(t *testing.T) {
	type fields struct {
		Dst, Src MAC
		Type     uint16
	}
	want := fields{MAC{0x01, 0x23, 0x45, 0x67, 0x89, 0xab}, MAC{0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54}, 0x88b5}
	b := make([]byte, EthernetLen+2)
	e := Ethernet(b)
	e.SetDst(want.Dst)
	e.SetSrc(want.Src)
	e.SetType(want.Type)
	b[14], b[15] = 0xca, 0xfe
	if diff := cmp.Diff(unhex(t, "0123456789ab fedcba987654 88b5 cafe"), b); diff != "" {
		t.Errorf("bytes (-want +got):\n%s", diff)
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	got := fields{e.Dst(), e.Src(), e.Type()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if e.HeaderLen() != 14 || e.PayloadType() != 0x88b5 || !bytes.Equal(e.Payload(), []byte{0xca, 0xfe}) {
		t.Errorf("HeaderLen %d PayloadType %#x Payload %x", e.HeaderLen(), e.PayloadType(), e.Payload())
	}
	if _, ok := e.VLAN(); ok {
		t.Error("VLAN reported on an untagged frame")
	}
	if got := AppendEthernet(nil, want.Dst, want.Src, want.Type); !bytes.Equal(got, b[:14]) {
		t.Errorf("AppendEthernet = %x", got)
	}
	if got, want := want.Dst.String(), "01:23:45:67:89:ab"; got != want {
		t.Errorf("MAC.String = %q, want %q", got, want)
	}
}

func TestEthernetVLAN(t *testing.T) {
	e := Ethernet(unhex(t, "0123456789ab fedcba987654 8100 a00c 86dd 60"))
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	id, ok := e.VLAN()
	if !ok || id != 12 || e.HeaderLen() != 18 || e.PayloadType() != EtherTypeIPv6 || !bytes.Equal(e.Payload(), []byte{0x60}) {
		t.Errorf("VLAN %d %v, HeaderLen %d, PayloadType %#x, Payload %x", id, ok, e.HeaderLen(), e.PayloadType(), e.Payload())
	}
	if err := Ethernet(e[:17]).Validate(); err != ErrTruncated {
		t.Errorf("tag cut short: %v, want ErrTruncated", err)
	}
	if err := Ethernet(e[:13]).Validate(); err != ErrTruncated {
		t.Errorf("13 bytes: %v, want ErrTruncated", err)
	}
}

func TestARPRoundTrip(t *testing.T) {
	type fields struct {
		Op       uint16
		SHA, THA MAC
		SPA, TPA netip.Addr
	}
	want := fields{0x0102, MAC{1, 2, 3, 4, 5, 6}, MAC{0xa, 0xb, 0xc, 0xd, 0xe, 0xf}, addr("198.51.100.1"), addr("203.0.113.254")}
	b := AppendARP(nil, want.Op, want.SHA, want.SPA, want.THA, want.TPA)
	if diff := cmp.Diff(unhex(t, "0001 0800 06 04 0102 010203040506 c6336401 0a0b0c0d0e0f cb0071fe"), b); diff != "" {
		t.Errorf("bytes (-want +got):\n%s", diff)
	}
	a := ARP(b)
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	got := fields{a.Op(), a.SenderMAC(), a.TargetMAC(), a.SenderIP(), a.TargetIP()}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	for i, want := range []error{ErrARPFormat, ErrARPFormat, ErrARPFormat, ErrARPFormat} {
		bad := bytes.Clone(b)
		bad[[]int{1, 3, 4, 5}[i]]++
		if err := ARP(bad).Validate(); err != want {
			t.Errorf("mutated byte %d: %v, want %v", i, err, want)
		}
	}
	if err := ARP(b[:27]).Validate(); err != ErrTruncated {
		t.Errorf("27 bytes: %v", err)
	}
}

type ipv4Fields struct {
	Version          uint8
	HeaderLen        int
	TOS              uint8
	TotalLen, ID     uint16
	Flags            uint8
	DF, MF           bool
	FragOffset       uint16
	TTL, Protocol    uint8
	Checksum         uint16
	Src, Dst         netip.Addr
	Options, Payload []byte
	Fragment         Fragment
}

func readIPv4(ip IPv4) ipv4Fields {
	return ipv4Fields{ip.Version(), ip.HeaderLen(), ip.TOS(), ip.TotalLen(), ip.ID(), ip.Flags(), ip.DF(), ip.MF(),
		ip.FragOffset(), ip.TTL(), ip.Protocol(), ip.Checksum(), ip.Src(), ip.Dst(), ip.Options(), ip.Payload(), ip.Fragment()}
}

func TestIPv4RoundTrip(t *testing.T) {
	want := ipv4Fields{
		Version: 4, HeaderLen: 24, TOS: 0xb8, TotalLen: 28, ID: 0xbeef,
		Flags: IPv4FlagReserved | IPv4FlagDF | IPv4FlagMF, DF: true, MF: true, FragOffset: 0xfff8,
		TTL: 0x3f, Protocol: 0x84, Checksum: 0x1234, Src: addr("198.51.100.7"), Dst: addr("203.0.113.9"),
		Options: []byte{0x94, 0x04, 0x00, 0x00}, Payload: []byte{0xdd, 0xdd, 0xdd, 0xdd}, Fragment: LaterFragment,
	}
	b := make([]byte, 28+3) // 3 bytes of link padding after Total Length
	ip := IPv4(b)
	ip.SetHeaderLen(want.HeaderLen)
	ip.SetTOS(want.TOS)
	ip.SetTotalLen(want.TotalLen)
	ip.SetID(want.ID)
	ip.SetFlags(want.Flags)
	ip.SetFragOffset(want.FragOffset)
	ip.SetTTL(want.TTL)
	ip.SetProtocol(want.Protocol)
	ip.SetChecksum(want.Checksum)
	ip.SetSrc(want.Src)
	ip.SetDst(want.Dst)
	copy(b[20:], want.Options)
	copy(b[24:], want.Payload)
	if diff := cmp.Diff(unhex(t, "46b8001c beefffff 3f841234 c6336407 cb007109 94040000 dddddddd 000000"), b); diff != "" {
		t.Errorf("bytes (-want +got):\n%s", diff)
	}
	if err := ip.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, readIPv4(ip), cmpOpts); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	// Flags and offset are independent.
	ip.SetFlags(IPv4FlagMF)
	ip.SetFragOffset(8)
	if ip.Flags() != IPv4FlagMF || ip.FragOffset() != 8 || ip.Fragment() != LaterFragment {
		t.Errorf("flags %d offset %d", ip.Flags(), ip.FragOffset())
	}
	ip.SetFragOffset(0)
	if ip.Fragment() != FirstFragment {
		t.Errorf("MF with offset 0: %v, want first", ip.Fragment())
	}
	ip.ComputeChecksum()
	if !ip.ChecksumValid() {
		t.Error("checksum does not verify after ComputeChecksum")
	}
}

func TestIPv4Validate(t *testing.T) {
	good := AppendUDP(nil, IPHeader{Src: addr("192.0.2.1"), Dst: addr("192.0.2.2")}, 1, 2, []byte("x"))
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   error
	}{
		{"good", func(b []byte) []byte { return b }, nil},
		{"padding after total length", func(b []byte) []byte { return append(b, 0, 0, 0) }, nil},
		{"short", func(b []byte) []byte { return b[:19] }, ErrTruncated},
		{"version 6", func(b []byte) []byte { b[0] = 0x65; return b }, ErrVersion},
		{"ihl 4", func(b []byte) []byte { b[0] = 0x44; return b }, ErrHeaderLen},
		{"total < ihl", func(b []byte) []byte { b[2], b[3] = 0, 19; return b }, ErrHeaderLen},
		{"total > slice", func(b []byte) []byte { return b[:len(b)-1] }, ErrTruncated},
		{"ihl beyond total", func(b []byte) []byte { b[0] = 0x4f; return b }, ErrHeaderLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := IPv4(tt.mutate(bytes.Clone(good))).Validate(); err != tt.want {
				t.Errorf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIPv6RoundTrip(t *testing.T) {
	type fields struct {
		Version              uint8
		TrafficClass         uint8
		FlowLabel            uint32
		PayloadLen           uint16
		NextHeader, HopLimit uint8
		Src, Dst             netip.Addr
		Payload              []byte
	}
	want := fields{6, 0xa5, 0xfedcb, 4, 0x11, 0xfe, addr("2001:db8::1:2:3:4"), addr("2001:db8:ffff::9"), []byte{1, 2, 3, 4}}
	b := make([]byte, 44)
	ip := IPv6(b)
	ip.SetVersionClassLabel(want.TrafficClass, want.FlowLabel)
	ip.SetPayloadLen(want.PayloadLen)
	ip.SetNextHeader(want.NextHeader)
	ip.SetHopLimit(want.HopLimit)
	ip.SetSrc(want.Src)
	ip.SetDst(want.Dst)
	copy(b[40:], want.Payload)
	if diff := cmp.Diff(unhex(t, "6a5fedcb 000411fe 20010db8000000000001000200030004 20010db8ffff00000000000000000009 01020304"), b); diff != "" {
		t.Errorf("bytes (-want +got):\n%s", diff)
	}
	if err := ip.Validate(); err != nil {
		t.Fatal(err)
	}
	got := fields{ip.Version(), ip.TrafficClass(), ip.FlowLabel(), ip.PayloadLen(), ip.NextHeader(), ip.HopLimit(), ip.Src(), ip.Dst(), ip.Payload()}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if err := IPv6(b[:43]).Validate(); err != ErrTruncated {
		t.Errorf("payload cut: %v", err)
	}
	if err := IPv6(b[:39]).Validate(); err != ErrTruncated {
		t.Errorf("39 bytes: %v", err)
	}
	b[0] = 0x4a
	if err := ip.Validate(); err != ErrVersion {
		t.Errorf("version 4: %v", err)
	}
}

type icmpFields struct {
	Type, Code        uint8
	Checksum, ID, Seq uint16
	Payload           []byte
}

func TestICMPRoundTrip(t *testing.T) {
	want := icmpFields{0x0b, 0x01, 0xabcd, 0x1234, 0x5678, []byte{9}}
	wantHex := unhex(t, "0b01abcd 12345678 09")

	b := make([]byte, 9)
	m := ICMPv4(b)
	m.SetType(want.Type)
	m.SetCode(want.Code)
	m.SetChecksum(want.Checksum)
	m.SetEchoID(want.ID)
	m.SetEchoSeq(want.Seq)
	b[8] = 9
	if diff := cmp.Diff(wantHex, b); diff != "" {
		t.Errorf("ICMPv4 bytes (-want +got):\n%s", diff)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, icmpFields{m.Type(), m.Code(), m.Checksum(), m.EchoID(), m.EchoSeq(), m.Payload()}); diff != "" {
		t.Errorf("ICMPv4 fields (-want +got):\n%s", diff)
	}
	m.ComputeChecksum()
	if !m.ChecksumValid() {
		t.Error("ICMPv4 checksum does not verify")
	}

	b6 := make([]byte, 9)
	m6 := ICMPv6(b6)
	m6.SetType(want.Type)
	m6.SetCode(want.Code)
	m6.SetChecksum(want.Checksum)
	m6.SetEchoID(want.ID)
	m6.SetEchoSeq(want.Seq)
	b6[8] = 9
	if diff := cmp.Diff(wantHex, b6); diff != "" {
		t.Errorf("ICMPv6 bytes (-want +got):\n%s", diff)
	}
	if err := m6.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, icmpFields{m6.Type(), m6.Code(), m6.Checksum(), m6.EchoID(), m6.EchoSeq(), m6.Payload()}); diff != "" {
		t.Errorf("ICMPv6 fields (-want +got):\n%s", diff)
	}
	src, dst := addr("2001:db8::1"), addr("2001:db8::2")
	m6.ComputeChecksum(src, dst)
	if !m6.ChecksumValid(src, dst) || m6.ChecksumValid(dst, addr("2001:db8::3")) {
		t.Error("ICMPv6 checksum does not cover the pseudo-header")
	}
	if ICMPv4(b[:7]).Validate() != ErrTruncated || ICMPv6(b[:7]).Validate() != ErrTruncated {
		t.Error("7 bytes validate")
	}
}

func TestUDPRoundTrip(t *testing.T) {
	type fields struct {
		SrcPort, DstPort, Length, Checksum uint16
		Payload                            []byte
	}
	want := fields{0x1111, 0x2222, 12, 0x3333, []byte{4, 5, 6, 7}}
	b := make([]byte, 13) // one byte beyond Length
	u := UDP(b)
	u.SetSrcPort(want.SrcPort)
	u.SetDstPort(want.DstPort)
	u.SetLength(want.Length)
	u.SetChecksum(want.Checksum)
	copy(b[8:], want.Payload)
	if diff := cmp.Diff(unhex(t, "11112222 000c3333 04050607 00"), b); diff != "" {
		t.Errorf("bytes (-want +got):\n%s", diff)
	}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, fields{u.SrcPort(), u.DstPort(), u.Length(), u.Checksum(), u.Payload()}); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	u.SetLength(7)
	if u.Validate() != ErrHeaderLen {
		t.Error("length 7 validates")
	}
	u.SetLength(14)
	if u.Validate() != ErrTruncated {
		t.Error("length beyond slice validates")
	}
}

func TestUDPChecksumZero(t *testing.T) {
	src4, dst4 := addr("192.0.2.1"), addr("192.0.2.2")
	u := UDP(AppendUDP(nil, IPHeader{Src: src4, Dst: dst4}, 1000, 2000, []byte("abc"))[20:])
	if !u.ChecksumValid(src4, dst4) {
		t.Fatal("built checksum does not verify")
	}
	u.SetChecksum(0)
	if !u.ChecksumValid(src4, dst4) {
		t.Error("zero checksum over IPv4 must mean none")
	}
	src6, dst6 := addr("2001:db8::1"), addr("2001:db8::2")
	u6 := UDP(AppendUDP(nil, IPHeader{Src: src6, Dst: dst6}, 1000, 2000, []byte("abc"))[40:])
	u6.SetChecksum(0)
	if u6.ChecksumValid(src6, dst6) {
		t.Error("zero checksum over IPv6 must not verify")
	}
	// A datagram whose checksum computes to 0 is sent as 0xffff (RFC 768):
	// search a payload word that makes it so.
	b := AppendUDP(nil, IPHeader{Src: src4, Dst: dst4}, 1000, 2000, []byte{0, 0})
	u = UDP(b[20:])
	u.SetChecksum(0)
	need := ^Checksum(u, PseudoHeaderChecksum(ProtoUDP, src4, dst4, len(u))) // the word value that makes the sum 0xffff
	u[8], u[9] = byte(need>>8), byte(need)
	u.ComputeChecksum(src4, dst4)
	if u.Checksum() != 0xffff || !u.ChecksumValid(src4, dst4) {
		t.Errorf("checksum = %#04x, want 0xffff", u.Checksum())
	}
}

type tcpFields struct {
	SrcPort, DstPort         uint16
	Seq, Ack                 uint32
	DataOffset               int
	Flags                    uint8
	Window, Checksum, Urgent uint16
	Options, Payload         []byte
}

func readTCP(s TCP) tcpFields {
	return tcpFields{s.SrcPort(), s.DstPort(), s.Seq(), s.Ack(), s.DataOffset(), s.Flags(), s.Window(), s.Checksum(), s.Urgent(), s.Options(), s.Payload()}
}

func TestTCPRoundTrip(t *testing.T) {
	want := tcpFields{0x1234, 0x5678, 0x01020304, 0xa0b0c0d0, 24, 0xff, 0xfedc, 0x1357, 0x2468, []byte{2, 4, 0x05, 0xb4}, []byte{0x99}}
	b := make([]byte, 25)
	s := TCP(b)
	s.SetSrcPort(want.SrcPort)
	s.SetDstPort(want.DstPort)
	s.SetSeq(want.Seq)
	s.SetAck(want.Ack)
	s.SetDataOffset(want.DataOffset)
	s.SetFlags(want.Flags)
	s.SetWindow(want.Window)
	s.SetChecksum(want.Checksum)
	s.SetUrgent(want.Urgent)
	copy(b[20:], want.Options)
	b[24] = 0x99
	if diff := cmp.Diff(unhex(t, "12345678 01020304 a0b0c0d0 60fffedc 13572468 020405b4 99"), b); diff != "" {
		t.Errorf("bytes (-want +got):\n%s", diff)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, readTCP(s)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if mss, ok := s.MSS(); !ok || mss != 1460 {
		t.Errorf("MSS = %d, %v", mss, ok)
	}
	// The reserved bits (and AE) survive SetDataOffset.
	b[12] |= 0x0f
	s.SetDataOffset(20)
	if b[12] != 0x5f || s.DataOffset() != 20 {
		t.Errorf("byte 12 = %#x", b[12])
	}
	s.SetDataOffset(16)
	if s.Validate() != ErrHeaderLen {
		t.Error("data offset 16 validates")
	}
	s.SetDataOffset(28)
	if s.Validate() != ErrTruncated {
		t.Error("data offset beyond slice validates")
	}
	if TCP(b[:19]).Validate() != ErrTruncated {
		t.Error("19 bytes validate")
	}
}

func TestTCPBuilderChecksum(t *testing.T) {
	for _, h := range []IPHeader{
		{Src: addr("192.0.2.1"), Dst: addr("198.51.100.2"), TTL: 7, TOS: 0x10, ID: 9, DF: true},
		{Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), TTL: 7, TOS: 0x10, FlowLabel: 0x12345},
	} {
		p := AppendTCP(nil, h, TCPHeader{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: TCPFlagACK | TCPFlagPSH, Window: 5, Urgent: 6, Options: []byte{1, 1, 1}}, []byte("odd"))
		k, fi, err := ParseFlow(p)
		if err != nil {
			t.Fatal(err)
		}
		s := TCP(p[fi.L4Offset:])
		if !s.ChecksumValid(k.Src, k.Dst) {
			t.Errorf("%v: checksum does not verify", h.Src)
		}
		if s.DataOffset() != 24 || !bytes.Equal(s.Options(), []byte{1, 1, 1, 0}) || string(s.Payload()) != "odd" {
			t.Errorf("%v: offset %d options %x payload %q", h.Src, s.DataOffset(), s.Options(), s.Payload())
		}
		if h.Src.Is4() {
			ip := IPv4(p)
			if ip.TTL() != 7 || ip.TOS() != 0x10 || ip.ID() != 9 || !ip.DF() || !ip.ChecksumValid() {
				t.Errorf("ipv4 header %x", p[:20])
			}
		} else {
			ip := IPv6(p)
			if ip.HopLimit() != 7 || ip.TrafficClass() != 0x10 || ip.FlowLabel() != 0x12345 {
				t.Errorf("ipv6 header %x", p[:40])
			}
		}
	}
}

type geneveFields struct {
	Version               uint8
	OptionsLen, HeaderLen int
	OAM, Critical         bool
	Protocol              uint16
	VNI                   uint32
	Options               []optFields
	Payload               []byte
}

type optFields struct {
	Class    uint16
	Type     uint8
	Critical bool
	Data     []byte
}

func readGeneve(g Geneve) (geneveFields, error) {
	f := geneveFields{g.Version(), g.OptionsLen(), g.HeaderLen(), g.OAM(), g.Critical(), g.Protocol(), g.VNI(), nil, g.Payload()}
	it := g.Options()
	for it.Next() {
		o := it.Option()
		f.Options = append(f.Options, optFields{o.Class(), o.Type(), o.Critical(), o.Data()})
	}
	return f, it.Err()
}

func TestGeneveRoundTrip(t *testing.T) {
	want := geneveFields{
		Version: 2, OptionsLen: 12, HeaderLen: 20, OAM: true, Critical: true, Protocol: 0x6558, VNI: 0xabcdef,
		Options: []optFields{{0xffff, 0x85, true, []byte{1, 2, 3, 4}}, {0x0132, 0x7f, false, []byte{}}},
		Payload: []byte{0x45},
	}
	b := make([]byte, 21)
	g := Geneve(b)
	g.SetVersion(want.Version)
	g.SetOptionsLen(want.OptionsLen)
	g.SetOAM(want.OAM)
	g.SetCritical(want.Critical)
	g.SetProtocol(want.Protocol)
	g.SetVNI(want.VNI)
	off := GeneveLen
	for _, o := range want.Options {
		n, err := PutGeneveOption(b[off:], o.Class, o.Type, o.Data)
		if err != nil {
			t.Fatal(err)
		}
		off += n
	}
	b[20] = 0x45
	if diff := cmp.Diff(unhex(t, "83c06558 abcdef00 ffff8501 01020304 01327f00 45"), b); diff != "" {
		t.Errorf("bytes (-want +got):\n%s", diff)
	}
	if err := g.Validate(); err != ErrGeneveVersion {
		t.Errorf("Validate with version 2 = %v, want ErrGeneveVersion", err)
	}
	got, err := readGeneve(g)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	g.SetVersion(0)
	g.SetOAM(false)
	g.SetCritical(false)
	if err := g.Validate(); err != nil || b[0] != 0x03 || b[1] != 0 {
		t.Errorf("after clearing: %v, %x", err, b[:2])
	}
	// The reserved byte after the VNI is kept by SetVNI.
	b[7] = 0x5a
	g.SetVNI(1)
	if g.VNI() != 1 || b[7] != 0x5a {
		t.Errorf("VNI %d reserved %#x", g.VNI(), b[7])
	}
	// PutGeneve writes the same base header.
	re := make([]byte, 8)
	if err := PutGeneve(re, 12, true, true, 0x6558, 0xabcdef); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(re, unhex(t, "03c06558 abcdef00")) {
		t.Errorf("PutGeneve = %x", re)
	}
}

func TestGeneveOptionLimits(t *testing.T) {
	// The longest option: 124 bytes of data.
	b := make([]byte, 8+128)
	if _, err := PutGeneveOption(b[8:], 1, 2, make([]byte, 124)); err != nil {
		t.Fatalf("124 bytes: %v", err)
	}
	if err := PutGeneve(b, 128, false, false, EtherTypeIPv4, 0); err != nil {
		t.Fatal(err)
	}
	if err := Geneve(b).Validate(); err != nil {
		t.Errorf("one 124-byte option: %v", err)
	}
	if _, err := PutGeneveOption(b[8:], 1, 2, make([]byte, 128)); err != ErrGeneveOptions {
		t.Errorf("128 bytes of data: %v, want ErrGeneveOptions", err)
	}
	if _, err := PutGeneveOption(b[8:], 1, 2, make([]byte, 3)); err != ErrGeneveOptions {
		t.Errorf("3 bytes of data: %v, want ErrGeneveOptions", err)
	}
	if _, err := PutGeneveOption(b[:7], 1, 2, make([]byte, 4)); err != ErrShortBuffer {
		t.Errorf("short buffer: %v, want ErrShortBuffer", err)
	}
	// The most options: 252 bytes (two 124-byte options and one empty).
	b = make([]byte, 8+252)
	if err := PutGeneve(b, 252, false, false, EtherTypeIPv4, 0); err != nil {
		t.Fatal(err)
	}
	PutGeneveOption(b[8:], 1, 1, make([]byte, 124))
	PutGeneveOption(b[136:], 1, 2, make([]byte, 120))
	PutGeneveOption(b[260-4:], 1, 3, nil)
	if err := Geneve(b).Validate(); err != nil || Geneve(b).OptionsLen() != 252 {
		t.Errorf("252 bytes of options: %v", err)
	}
	if err := PutGeneve(b, 256, false, false, 0, 0); err != ErrGeneveOptions {
		t.Errorf("PutGeneve 256: %v", err)
	}
	if err := PutGeneve(b, 6, false, false, 0, 0); err != ErrGeneveOptions {
		t.Errorf("PutGeneve 6: %v", err)
	}
}

func TestGeneveValidate(t *testing.T) {
	good := unhex(t, goldenGeneve)
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   error
	}{
		{"good", func(b []byte) []byte { return b }, nil},
		{"short", func(b []byte) []byte { return b[:7] }, ErrTruncated},
		{"version 1", func(b []byte) []byte { b[0] |= 0x40; return b }, ErrGeneveVersion},
		{"opt len beyond slice", func(b []byte) []byte { return b[:39] }, ErrTruncated},
		{"option overruns opt len", func(b []byte) []byte { b[0x23] = 2; return b }, ErrGeneveOptions},
		{"one empty option", func(b []byte) []byte { b[0] = 1; b[0x0b] = 0; return b[:12] }, nil},
		{"opt len 1 with a 4-byte header", func(b []byte) []byte { b[0] = 1; return b }, ErrGeneveOptions},
		{"no options", func(b []byte) []byte { b[0] = 0; return b }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Geneve(tt.mutate(bytes.Clone(good))).Validate(); err != tt.want {
				t.Errorf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAWSOptions(t *testing.T) {
	opt := func(class uint16, typ uint8, data string) []byte {
		b := make([]byte, 4+len(data))
		if _, err := PutGeneveOption(b, class, typ, []byte(data)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	ep := opt(0x0108, 1, "\x01\x02\x03\x04\x05\x06\x07\x08")
	at := opt(0x0108, 2, "\x11\x12\x13\x14\x15\x16\x17\x18")
	ck := opt(0x0108, 3, "\x21\x22\x23\x24")
	full := AWSOptions{EndpointID: 0x0102030405060708, AttachmentID: 0x1112131415161718, Cookie: 0x21222324}
	tests := []struct {
		name string
		opts [][]byte
		want AWSOptions
		err  error
	}{
		{"gwlb order", [][]byte{ep, at, ck}, full, nil},
		{"reversed", [][]byte{ck, at, ep}, full, nil},
		{"unknown non-critical ignored", [][]byte{opt(0x0132, 1, "abcd"), ep, opt(0x0108, 4, ""), at, ck}, full, nil},
		{"missing cookie", [][]byte{ep, at}, AWSOptions{EndpointID: full.EndpointID, AttachmentID: full.AttachmentID}, ErrAWSOptionMissing},
		{"missing endpoint", [][]byte{at, ck}, AWSOptions{AttachmentID: full.AttachmentID, Cookie: full.Cookie}, ErrAWSOptionMissing},
		{"no options", nil, AWSOptions{}, ErrAWSOptionMissing},
		{"duplicate cookie", [][]byte{ep, at, ck, ck}, full, ErrAWSOptionDuplicate},
		{"cookie 8 bytes", [][]byte{ep, at, opt(0x0108, 3, "12345678")}, AWSOptions{EndpointID: full.EndpointID, AttachmentID: full.AttachmentID}, ErrAWSOptionLength},
		{"endpoint 4 bytes", [][]byte{opt(0x0108, 1, "1234"), at, ck}, AWSOptions{}, ErrAWSOptionLength},
		{"unknown critical", [][]byte{ep, opt(0x0132, 0x81, ""), at, ck}, AWSOptions{EndpointID: full.EndpointID}, ErrCriticalOption},
		{"aws type 1 with critical bit", [][]byte{opt(0x0108, 0x81, "12345678"), ep, at, ck}, AWSOptions{}, ErrCriticalOption},
		{"other class 0x0109", [][]byte{opt(0x0109, 1, "12345678"), at, ck}, AWSOptions{AttachmentID: full.AttachmentID, Cookie: full.Cookie}, ErrAWSOptionMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, 8, 8+252)
			for _, o := range tt.opts {
				b = append(b, o...)
			}
			if err := PutGeneve(b, len(b)-8, false, false, EtherTypeIPv4, 0); err != nil {
				t.Fatal(err)
			}
			got, err := Geneve(b).AWSOptions()
			if err != tt.err {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
	// A malformed option area is reported as such.
	b := unhex(t, goldenGeneve)
	b[0x23] = 2
	if _, err := Geneve(b).AWSOptions(); err != ErrGeneveOptions {
		t.Errorf("overrun: %v", err)
	}
}

func TestAWSOptionsRandomRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, GeneveLen+AWSOptionsLen)
	for range 1000 {
		want := AWSOptions{EndpointID: r.Uint64() | 1, AttachmentID: r.Uint64() | 1, Cookie: r.Uint32() | 1}
		PutGeneve(b, AWSOptionsLen, false, false, EtherTypeIPv6, 0)
		PutAWSOptions(b[GeneveLen:], want)
		got, err := Geneve(b).AWSOptions()
		if err != nil || got != want {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
	}
	if got := (AWSOptions{EndpointID: 0x123456789abcdef0}).EndpointName(); got != "vpce-0123456789abcdef0" {
		t.Errorf("EndpointName = %q", got)
	}
}

func TestEncapErrors(t *testing.T) {
	inner := AppendUDP(nil, IPHeader{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2")}, 1, 2, nil)
	p := gwlbParams(50000, false, 1)
	tests := []struct {
		name string
		buf  []byte
		off  int
		n    int
		p    EncapParams
		want error
	}{
		{"81 bytes of headroom", append(make([]byte, 81), inner...), 81, len(inner), p, ErrHeadroom},
		{"exactly 82", append(make([]byte, 82), inner...), 82, len(inner), p, nil},
		{"n beyond buffer", append(make([]byte, 82), inner...), 82, len(inner) + 1, p, ErrTruncated},
		{"empty inner", make([]byte, 82), 82, 0, p, ErrTruncated},
		{"inner version 5", append(make([]byte, 82), 0x50), 82, 1, p, ErrInnerVersion},
		{"ipv6 outer", append(make([]byte, 82), inner...), 82, len(inner), func() EncapParams { q := p; q.Dst = addr("2001:db8::1"); return q }(), ErrNotIPv4},
		{"too big", append(make([]byte, 82), make([]byte, 65536-68)...), 82, 65536 - 68, p, ErrTooBig},
	}
	tests[len(tests)-1].buf[82] = 0x45
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, err := Encap(tt.buf, tt.off, tt.n, &tt.p)
			if err != tt.want {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && start != tt.off-82 {
				t.Errorf("start = %d", start)
			}
		})
	}
}

func TestEncapDecapRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		var src, dst netip.Addr
		if i%2 == 0 {
			src, dst = netip.AddrFrom4([4]byte{10, byte(i), 1, 2}), netip.AddrFrom4([4]byte{10, 9, byte(i), 3})
		} else {
			src, dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}), netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 1, 15: byte(i)})
		}
		payload := make([]byte, r.IntN(1500))
		inner := AppendUDP(nil, IPHeader{Src: src, Dst: dst}, uint16(r.Uint32()), uint16(r.Uint32()), payload)
		p := EncapParams{
			SrcMAC: MAC{2, 1, 2, 3, 4, byte(i)}, DstMAC: MAC{2, 9, 8, 7, 6, byte(i)},
			Src: netip.AddrFrom4([4]byte{192, 168, 1, byte(i)}), Dst: addr("192.168.1.200"),
			SrcPort: uint16(49152 + r.IntN(16384)), TTL: uint8(1 + r.IntN(255)), DF: r.IntN(2) == 0, ID: uint16(r.Uint32()),
			UDPChecksum: r.IntN(2) == 0,
			Options:     AWSOptions{EndpointID: r.Uint64(), AttachmentID: r.Uint64(), Cookie: r.Uint32()},
		}
		buf := make([]byte, 128+len(inner)+r.IntN(20))
		off := 128 - r.IntN(47) // anywhere with at least 82 bytes of headroom
		copy(buf[off:], inner)
		start, err := Encap(buf, off, len(inner), &p)
		if err != nil {
			t.Fatal(err)
		}
		frame := buf[start : off+len(inner)]
		d, err := Decap(frame)
		if err != nil {
			t.Fatalf("Decap: %v", err)
		}
		if !bytes.Equal(d.Inner, inner) || d.Options != p.Options || d.Ethernet.Src() != p.SrcMAC || d.Ethernet.Dst() != p.DstMAC ||
			d.Outer.Src() != p.Src || d.Outer.Dst() != p.Dst || d.Outer.TTL() != p.TTL || d.Outer.DF() != p.DF || d.Outer.ID() != p.ID ||
			d.UDP.SrcPort() != p.SrcPort || (d.UDP.Checksum() != 0) != p.UDPChecksum || !d.UDP.ChecksumValid(p.Src, p.Dst) ||
			len(d.Geneve) != 40 || d.Geneve.VNI() != 0 {
			t.Fatalf("round trip %d: %+v", i, summarize(frame, d))
		}
	}
}

func TestDecapErrors(t *testing.T) {
	good := unhex(t, goldenSYN)
	// fix recomputes the outer IPv4 header checksum after a mutation.
	fix := func(b []byte) []byte { IPv4(b[14:]).ComputeChecksum(); return b }
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   error
	}{
		{"good", func(b []byte) []byte { return b }, nil},
		{"ethernet padding", func(b []byte) []byte { return append(b, 0, 0, 0, 0) }, nil},
		{"vlan tagged", func(b []byte) []byte {
			return append(append(bytes.Clone(b[:12]), 0x81, 0x00, 0x00, 0x05), b[12:]...)
		}, nil},
		{"short ethernet", func(b []byte) []byte { return b[:13] }, ErrTruncated},
		{"arp", func(b []byte) []byte { b[12], b[13] = 0x08, 0x06; return b }, ErrNotIPv4},
		{"ipv6 outer", func(b []byte) []byte { b[12], b[13] = 0x86, 0xdd; return b }, ErrNotIPv4},
		{"outer truncated", func(b []byte) []byte { return b[:100] }, ErrTruncated},
		{"outer version", func(b []byte) []byte { b[14] = 0x55; return b }, ErrVersion},
		{"outer checksum", func(b []byte) []byte { b[24]++; return b }, ErrChecksum},
		{"outer fragment", func(b []byte) []byte { b[20] |= 0x20; return fix(b) }, ErrFragment},
		{"tcp outer", func(b []byte) []byte { b[23] = ProtoTCP; return fix(b) }, ErrNotGeneve},
		{"udp to 4789", func(b []byte) []byte { b[36], b[37] = 0x12, 0xb5; return b }, ErrNotGeneve},
		{"udp length 7", func(b []byte) []byte { b[38], b[39] = 0, 7; return b }, ErrHeaderLen},
		{"udp length beyond ip", func(b []byte) []byte { b[39]++; return b }, ErrTruncated},
		{"geneve version 1", func(b []byte) []byte { b[42] |= 0x40; return b }, ErrGeneveVersion},
		{"geneve option overrun", func(b []byte) []byte { b[42+0x23] = 3; return b }, ErrGeneveOptions},
		{"geneve protocol ethernet", func(b []byte) []byte { b[44], b[45] = 0x65, 0x58; return b }, ErrGeneveProtocol},
		{"protocol says ipv6, inner is ipv4", func(b []byte) []byte { b[44], b[45] = 0x86, 0xdd; return b }, ErrInnerVersion},
		{"no inner packet", func(b []byte) []byte {
			b = b[:82]
			IPv4(b[14:]).SetTotalLen(68)
			UDP(b[34:]).SetLength(48)
			return fix(b)
		}, ErrInnerVersion},
		{"cookie missing", func(b []byte) []byte { b[42+0x22] = 4; return b }, ErrAWSOptionMissing},
		{"class 0x0109", func(b []byte) []byte { b[42+0x09] = 0x09; return b }, ErrAWSOptionMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decap(tt.mutate(bytes.Clone(good)))
			if err != tt.want {
				t.Errorf("Decap = %v, want %v", err, tt.want)
			}
		})
	}
	// An AWS option error still fills in the views.
	b := bytes.Clone(good)
	b[42+0x22] = 4
	d, err := Decap(b)
	if !errors.Is(err, ErrAWSOptionMissing) || len(d.Inner) != 60 || len(d.Geneve) != 40 || d.Options.EndpointID != endpointID {
		t.Errorf("views with AWS error: %v inner %d geneve %d", err, len(d.Inner), len(d.Geneve))
	}
}
