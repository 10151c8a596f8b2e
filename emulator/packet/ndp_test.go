package packet

import (
	"net/netip"
	"testing"
)

func TestNeighborSolicitAndAdvert(t *testing.T) {
	src, target := netip.MustParseAddr("2001:db8:1::10"), netip.MustParseAddr("2001:db8:1::abcd:1")
	mac := MAC{0x02, 1, 2, 3, 4, 5}
	ns := Ethernet(AppendNeighborSolicit(nil, mac, src, target))
	if ns.Type() != EtherTypeIPv6 || ns.Dst() != (MAC{0x33, 0x33, 0xff, 0xcd, 0x00, 0x01}) || ns.Src() != mac {
		t.Fatalf("solicitation frame %s -> %s type %#x", ns.Src(), ns.Dst(), ns.Type())
	}
	ip := IPv6(ns[EthernetLen:])
	if ip.Validate() != nil || ip.HopLimit() != 255 || ip.NextHeader() != ProtoICMPv6 || ip.Dst() != netip.MustParseAddr("ff02::1:ffcd:1") {
		t.Fatalf("solicitation header: hop limit %d next %d dst %s", ip.HopLimit(), ip.NextHeader(), ip.Dst())
	}
	m := ICMPv6(ip.Payload())
	if m.Type() != ICMPv6NeighborSolicit || NDPTarget(m) != target || !m.ChecksumValid(src, ip.Dst()) || m[NDPLen] != NDPOptSourceLL || MAC(m[NDPLen+2:]) != mac {
		t.Fatalf("solicitation % x", []byte(m))
	}

	rmac := MAC{0x02, 9, 9, 9, 9, 9}
	na := Ethernet(AppendNeighborAdvert(nil, rmac, mac, target, src, true))
	ip = IPv6(na[EthernetLen:])
	m = ICMPv6(ip.Payload())
	if na.Dst() != mac || na.Src() != rmac || ip.Src() != target || ip.Dst() != src || ip.HopLimit() != 255 {
		t.Fatalf("advert %s -> %s", ip.Src(), ip.Dst())
	}
	if m.Type() != ICMPv6NeighborAdvert || NDPTarget(m) != target || !m.ChecksumValid(target, src) ||
		NDPFlags(m) != NDPFlagRouter|NDPFlagSolicited|NDPFlagOverride || m[NDPLen] != NDPOptTargetLL || MAC(m[NDPLen+2:]) != rmac {
		t.Fatalf("advert % x", []byte(m))
	}
	// Answering DAD (from ::) goes to all-nodes, unsolicited.
	na = Ethernet(AppendNeighborAdvert(nil, rmac, mac, target, netip.IPv6Unspecified(), false))
	ip = IPv6(na[EthernetLen:])
	if ip.Dst() != netip.IPv6LinkLocalAllNodes() || na.Dst() != (MAC{0x33, 0x33, 0, 0, 0, 1}) || NDPFlags(ICMPv6(ip.Payload())) != NDPFlagOverride {
		t.Fatalf("DAD answer to %s (%s) flags %#x", ip.Dst(), na.Dst(), NDPFlags(ICMPv6(ip.Payload())))
	}
	// Appending into a buffer with room does not allocate.
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { _ = AppendNeighborAdvert(buf[:0], rmac, mac, target, src, true) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
