package packet

import (
	"bytes"
	"net/netip"
	"testing"
)

// Fuzz targets, one per decoder. Each asserts that nothing panics, that
// accessors of a validated view stay inside it, and that re-encoding the
// decoded fields with the setters reproduces the bytes. Seeds live in
// testdata/fuzz/<FuzzName>/.

func FuzzEthernet(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		e := Ethernet(b)
		if e.Validate() != nil {
			return
		}
		hl := e.HeaderLen()
		if hl > len(b) || len(e.Payload()) != len(b)-hl {
			t.Fatalf("header %d of %d bytes", hl, len(b))
		}
		_, tagged := e.VLAN()
		if tagged != (hl == EthernetLen+VLANTagLen) {
			t.Fatal("VLAN and HeaderLen disagree")
		}
		re := Ethernet(make([]byte, EthernetLen))
		re.SetDst(e.Dst())
		re.SetSrc(e.Src())
		re.SetType(e.Type())
		if !bytes.Equal(re, b[:EthernetLen]) {
			t.Fatalf("re-encoded %x, want %x", []byte(re), b[:EthernetLen])
		}
	})
}

func FuzzARP(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		a := ARP(b)
		if a.Validate() != nil {
			return
		}
		re := AppendARP(nil, a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
		if !bytes.Equal(re, b[:ARPLen]) {
			t.Fatalf("re-encoded %x, want %x", re, b[:ARPLen])
		}
	})
}

func FuzzIPv4(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv4(b)
		if ip.Validate() != nil {
			return
		}
		hl, tl := ip.HeaderLen(), int(ip.TotalLen())
		if hl < IPv4Len || hl > IPv4MaxLen || hl > tl || tl > len(b) {
			t.Fatalf("header %d total %d slice %d", hl, tl, len(b))
		}
		if len(ip.Options()) != hl-IPv4Len || len(ip.Payload()) != tl-hl {
			t.Fatal("options or payload out of bounds")
		}
		re := IPv4(make([]byte, hl))
		re.SetHeaderLen(hl)
		re.SetTOS(ip.TOS())
		re.SetTotalLen(ip.TotalLen())
		re.SetID(ip.ID())
		re.SetFlags(ip.Flags())
		re.SetFragOffset(ip.FragOffset())
		re.SetTTL(ip.TTL())
		re.SetProtocol(ip.Protocol())
		re.SetChecksum(ip.Checksum())
		re.SetSrc(ip.Src())
		re.SetDst(ip.Dst())
		copy(re[IPv4Len:], ip.Options())
		if !bytes.Equal(re, b[:hl]) {
			t.Fatalf("re-encoded %x, want %x", []byte(re), b[:hl])
		}
		if ip.Fragment() == NotFragment && (ip.MF() || ip.FragOffset() != 0) {
			t.Fatal("fragment not reported")
		}
		re.ComputeChecksum()
		if !re.ChecksumValid() {
			t.Fatal("checksum does not verify after ComputeChecksum")
		}
	})
}

func FuzzIPv6(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv6(b)
		if ip.Validate() != nil {
			return
		}
		end := IPv6Len + int(ip.PayloadLen())
		if len(ip.Payload()) != end-IPv6Len {
			t.Fatal("payload out of bounds")
		}
		proto, off, frag, err := ip.Upper()
		if err == nil && (off < IPv6Len || off > end) {
			t.Fatalf("upper layer at %d outside [40, %d]", off, end)
		}
		if err == nil && frag != LaterFragment && isExtHeader(proto) {
			t.Fatalf("walk stopped at extension header %d", proto)
		}
		re := IPv6(make([]byte, IPv6Len))
		re.SetVersionClassLabel(ip.TrafficClass(), ip.FlowLabel())
		re.SetPayloadLen(ip.PayloadLen())
		re.SetNextHeader(ip.NextHeader())
		re.SetHopLimit(ip.HopLimit())
		re.SetSrc(ip.Src())
		re.SetDst(ip.Dst())
		if !bytes.Equal(re, b[:IPv6Len]) {
			t.Fatalf("re-encoded %x, want %x", []byte(re), b[:IPv6Len])
		}
	})
}

func isExtHeader(p uint8) bool {
	switch p {
	case ProtoHopByHop, ProtoRouting, ProtoFragment, ProtoAH, ProtoDestOpts, ProtoMobility, ProtoHIP, ProtoShim6:
		return true
	}
	return false
}

// addrsFor gives fixed addresses of the family picked by sel.
func addrsFor(sel bool) (netip.Addr, netip.Addr) {
	if sel {
		return v6src, v6dst
	}
	return v4src, v4dst
}

func FuzzTCP(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, max uint16, v6 bool) {
		s := TCP(b)
		if s.Validate() != nil {
			s.ClampMSS(max) // must not panic on garbage either
			return
		}
		off := s.DataOffset()
		if off < TCPLen || off > TCPMaxLen || off > len(b) || len(s.Options()) != off-TCPLen || len(s.Payload()) != len(b)-off {
			t.Fatalf("data offset %d of %d bytes", off, len(b))
		}
		re := TCP(make([]byte, off))
		re[tcpDataOff] = b[tcpDataOff] & 0x0f // reserved bits ride along
		re.SetSrcPort(s.SrcPort())
		re.SetDstPort(s.DstPort())
		re.SetSeq(s.Seq())
		re.SetAck(s.Ack())
		re.SetDataOffset(off)
		re.SetFlags(s.Flags())
		re.SetWindow(s.Window())
		re.SetChecksum(s.Checksum())
		re.SetUrgent(s.Urgent())
		copy(re[TCPLen:], s.Options())
		if !bytes.Equal(re, b[:off]) {
			t.Fatalf("re-encoded %x, want %x", []byte(re), b[:off])
		}
		// Clamp with a correct checksum in place: it must stay correct, and
		// the MSS must end at most max.
		src, dst := addrsFor(v6)
		s.ComputeChecksum(src, dst)
		before, had := s.MSS()
		changed := s.ClampMSS(max)
		after, has := s.MSS()
		if had != has || changed != (had && before > max) || (has && changed && after != max) || (has && !changed && after != before) {
			t.Fatalf("MSS %d,%v -> %d,%v (changed %v, max %d)", before, had, after, has, changed, max)
		}
		if !s.ChecksumValid(src, dst) {
			t.Fatal("checksum broken by ClampMSS")
		}
	})
}

func FuzzUDP(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		u := UDP(b)
		if u.Validate() != nil {
			return
		}
		if len(u.Payload()) != int(u.Length())-UDPLen {
			t.Fatal("payload out of bounds")
		}
		re := UDP(make([]byte, UDPLen))
		re.SetSrcPort(u.SrcPort())
		re.SetDstPort(u.DstPort())
		re.SetLength(u.Length())
		re.SetChecksum(u.Checksum())
		if !bytes.Equal(re, b[:UDPLen]) {
			t.Fatalf("re-encoded %x, want %x", []byte(re), b[:UDPLen])
		}
		src, dst := addrsFor(v6)
		u.ComputeChecksum(src, dst)
		if u.Checksum() == 0 || !u.ChecksumValid(src, dst) {
			t.Fatalf("checksum %#04x does not verify", u.Checksum())
		}
	})
}

func FuzzICMP(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if ICMPv4(b).Validate() != nil {
			if ICMPv6(b).Validate() == nil {
				t.Fatal("ICMPv4 and ICMPv6 disagree on validity")
			}
			return
		}
		for _, v6 := range []bool{false, true} {
			m := bytes.Clone(b)
			re := make([]byte, ICMPLen)
			if v6 {
				v, r := ICMPv6(m), ICMPv6(re)
				r.SetType(v.Type())
				r.SetCode(v.Code())
				r.SetChecksum(v.Checksum())
				r.SetEchoID(v.EchoID())
				r.SetEchoSeq(v.EchoSeq())
				v.ComputeChecksum(v6src, v6dst)
				if !v.ChecksumValid(v6src, v6dst) {
					t.Fatal("ICMPv6 checksum does not verify")
				}
			} else {
				v, r := ICMPv4(m), ICMPv4(re)
				r.SetType(v.Type())
				r.SetCode(v.Code())
				r.SetChecksum(v.Checksum())
				r.SetEchoID(v.EchoID())
				r.SetEchoSeq(v.EchoSeq())
				v.ComputeChecksum()
				if !v.ChecksumValid() {
					t.Fatal("ICMPv4 checksum does not verify")
				}
			}
			if !bytes.Equal(re, b[:ICMPLen]) {
				t.Fatalf("re-encoded %x, want %x", re, b[:ICMPLen])
			}
		}
	})
}

func FuzzGeneve(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		g := Geneve(b)
		aws, awsErr := g.AWSOptions() // never panics, valid or not
		if g.Validate() != nil {
			return
		}
		hl := g.HeaderLen()
		if g.OptionsLen() > GeneveMaxOptionsLen || hl > len(b) || len(g.Payload()) != len(b)-hl {
			t.Fatalf("header %d of %d bytes", hl, len(b))
		}
		// Re-encode from the decoded fields. Reserved bits are written zero
		// (RFC 8926: set to zero on transmission), so compare with them
		// cleared.
		re := make([]byte, hl)
		if err := PutGeneve(re, g.OptionsLen(), g.OAM(), g.Critical(), g.Protocol(), g.VNI()); err != nil {
			t.Fatal(err)
		}
		off, n := GeneveLen, 0
		it := g.Options()
		for it.Next() {
			o := it.Option()
			if o.DataLen() > GeneveMaxOptionData || len(o.Data()) != o.DataLen() {
				t.Fatalf("option data %d bytes", o.DataLen())
			}
			w, err := PutGeneveOption(re[off:], o.Class(), o.Type(), o.Data())
			if err != nil {
				t.Fatal(err)
			}
			off += w
			n++
		}
		if it.Err() != nil || off != hl {
			t.Fatalf("options end at %d, header at %d: %v", off, hl, it.Err())
		}
		want := bytes.Clone(b[:hl])
		want[genFlags] &= genFlagO | genFlagC
		want[genVNI+3] = 0
		for o := GeneveLen; o < hl; o += GeneveOptionLen + int(want[o+3]&genOptLenMask)*4 {
			want[o+3] &= genOptLenMask
		}
		if !bytes.Equal(re, want) {
			t.Fatalf("re-encoded %x, want %x", re, want)
		}
		// A header with exactly GWLB's options in GWLB's order re-encodes
		// with PutAWSOptions.
		if awsErr == nil && n == 3 && g.OptionsLen() == AWSOptionsLen {
			opts := make([]byte, AWSOptionsLen)
			PutAWSOptions(opts, aws)
			got := want[GeneveLen:]
			if bytes.Equal(got[:4], []byte{1, 8, 1, 2}) && bytes.Equal(got[12:16], []byte{1, 8, 2, 2}) && !bytes.Equal(opts, got) {
				t.Fatalf("PutAWSOptions %x, want %x", opts, got)
			}
		}
	})
}

func FuzzParseFlow(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		k, fi, err := ParseFlow(b)
		if err != nil {
			return
		}
		if fi.Version != 4 && fi.Version != 6 || fi.L4Offset > len(b) || fi.L4Offset < IPv4Len {
			t.Fatalf("info %+v for %d bytes", fi, len(b))
		}
		if (fi.Version == 4) != k.Src.Is4() || (fi.Version == 4) != k.Dst.Is4() {
			t.Fatalf("version %d with %v -> %v", fi.Version, k.Src, k.Dst)
		}
		if (k.SrcPort != 0 || k.DstPort != 0) && (fi.Fragment == LaterFragment || k.Proto != ProtoTCP && k.Proto != ProtoUDP) {
			t.Fatalf("ports on %+v %+v", k, fi)
		}
		if fi.TCPFlags != 0 && k.Proto != ProtoTCP {
			t.Fatalf("TCP flags on protocol %d", k.Proto)
		}
		if fi.Fragment == NotFragment && (k.Proto == ProtoTCP || k.Proto == ProtoUDP) && fi.Version == 4 {
			// A whole packet's ports are where the header says.
			s := TCP(b[fi.L4Offset:])
			if s.SrcPort() != k.SrcPort || s.DstPort() != k.DstPort {
				t.Fatalf("ports %d %d, header %x", k.SrcPort, k.DstPort, b[fi.L4Offset:fi.L4Offset+4])
			}
		}
	})
}

func FuzzDecap(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decap(b)
		switch err {
		case nil, ErrAWSOptionMissing, ErrAWSOptionDuplicate, ErrAWSOptionLength, ErrCriticalOption:
		default:
			return
		}
		// The views nest inside the frame, in order.
		if len(d.Inner) == 0 || len(d.Geneve) != d.Geneve.HeaderLen() ||
			len(d.UDP) != int(d.UDP.Length()) || len(d.Outer) != int(d.Outer.TotalLen()) {
			t.Fatalf("views: inner %d geneve %d udp %d outer %d", len(d.Inner), len(d.Geneve), len(d.UDP), len(d.Outer))
		}
		innerOff := len(d.Ethernet) + d.Outer.HeaderLen() + UDPLen + len(d.Geneve)
		if innerOff+len(d.Inner) > len(b) || !bytes.Equal(b[innerOff:innerOff+len(d.Inner)], d.Inner) {
			t.Fatal("inner packet is not where the headers say")
		}
		if err != nil {
			return
		}
		// Re-encapsulate from the decoded values. Encap writes what GWLB
		// sends, so compare the fields it does not control as they are.
		p := EncapParams{
			SrcMAC: d.Ethernet.Src(), DstMAC: d.Ethernet.Dst(), Src: d.Outer.Src(), Dst: d.Outer.Dst(),
			SrcPort: d.UDP.SrcPort(), TTL: d.Outer.TTL(), DF: d.Outer.DF(), ID: d.Outer.ID(),
			UDPChecksum: d.UDP.Checksum() != 0, Options: d.Options,
		}
		buf := make([]byte, EncapLen+len(d.Inner))
		copy(buf[EncapLen:], d.Inner)
		if _, err := Encap(buf, EncapLen, len(d.Inner), &p); err != nil {
			t.Fatal(err)
		}
		// A header checksum of 0xffff also verifies where Encap writes 0.
		gwlbShape := len(d.Ethernet) == EthernetLen && d.Outer.HeaderLen() == IPv4Len && d.Outer.TOS() == 0 && d.Outer.Checksum() != 0xffff &&
			d.Outer.Flags()&IPv4FlagReserved == 0 && bytes.Equal(d.Geneve[1:2], []byte{0}) && d.Geneve.VNI() == 0 &&
			d.Geneve[7] == 0 && d.Geneve.OptionsLen() == AWSOptionsLen && d.UDP.ChecksumValid(d.Outer.Src(), d.Outer.Dst()) &&
			bytes.Equal(d.Geneve[8:12], []byte{1, 8, 1, 2}) && bytes.Equal(d.Geneve[20:24], []byte{1, 8, 2, 2}) &&
			bytes.Equal(d.Geneve[32:36], []byte{1, 8, 3, 1}) && len(b) == EthernetLen+len(d.Outer) && len(d.UDP) == len(d.Outer)-IPv4Len
		if gwlbShape && !bytes.Equal(buf, b) {
			t.Fatalf("re-encapsulated\n%x\nwant\n%x", buf, b)
		}
		if _, err := Decap(buf); err != nil {
			t.Fatalf("Decap of our own Encap: %v", err)
		}
	})
}
