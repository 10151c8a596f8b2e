package appliance

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

// header is a GWLB GENEVE header with the three AWS options.
func header(t *testing.T) []byte {
	t.Helper()
	inner := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("10.0.1.10")}, 1, 2, nil)
	buf := make([]byte, 128+len(inner))
	copy(buf[128:], inner)
	p := packet.EncapParams{Src: a("10.20.0.50"), Dst: a("10.20.1.11"), SrcPort: 60000,
		Options: packet.AWSOptions{EndpointID: 0x1506c7254f8aedb0, Cookie: 0xcafef00d}}
	start, err := packet.Encap(buf, 128, len(inner), &p)
	if err != nil {
		t.Fatal(err)
	}
	g := buf[start+packet.EthernetLen+packet.IPv4Len+packet.UDPLen : 128]
	return append([]byte(nil), g...)
}

func TestMisbehave(t *testing.T) {
	cases := []struct {
		name  string
		m     Misbehave
		check func(t *testing.T, g packet.Geneve, err error)
	}{
		{"none", Misbehave{}, func(t *testing.T, g packet.Geneve, err error) {
			if err != nil || g.VNI() != 0 {
				t.Fatalf("untouched header changed: %v vni %d", err, g.VNI())
			}
		}},
		{"alter cookie", Misbehave{AlterCookie: true}, func(t *testing.T, g packet.Geneve, err error) {
			o, _ := g.AWSOptions()
			if err != nil || o.Cookie != ^uint32(0xcafef00d) || o.EndpointID != 0x1506c7254f8aedb0 {
				t.Fatalf("options %+v err %v", o, err)
			}
		}},
		{"strip cookie", Misbehave{StripOption: 3}, func(t *testing.T, g packet.Geneve, err error) {
			if err != packet.ErrAWSOptionMissing || g.OptionsLen() != 24 {
				t.Fatalf("err %v, options %d bytes", err, g.OptionsLen())
			}
		}},
		{"strip endpoint", Misbehave{StripOption: 1}, func(t *testing.T, g packet.Geneve, err error) {
			o, _ := g.AWSOptions()
			if err != packet.ErrAWSOptionMissing || g.OptionsLen() != 20 || o.Cookie != 0xcafef00d {
				t.Fatalf("err %v, options %d bytes, %+v", err, g.OptionsLen(), o)
			}
		}},
		{"vni", Misbehave{VNI: 5}, func(t *testing.T, g packet.Geneve, err error) {
			if g.VNI() != 5 || err != nil {
				t.Fatalf("vni %d err %v", g.VNI(), err)
			}
		}},
		{"control", Misbehave{Control: true}, func(t *testing.T, g packet.Geneve, err error) {
			if !g.OAM() || g.VNI() != 0 || err != nil {
				t.Fatalf("O bit %v vni %d err %v", g.OAM(), g.VNI(), err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := header(t)
			n := c.m.apply(h)
			g := packet.Geneve(h[:n])
			if err := g.Validate(); err != nil {
				t.Fatalf("invalid header after misbehaving: %v", err)
			}
			_, err := g.AWSOptions()
			c.check(t, g, err)
		})
	}
}

func pkt(src, dst string, sport, dport uint16, proto uint8, flags uint8) *Packet {
	return &Packet{
		Key:  packet.FlowKey{Src: a(src), Dst: a(dst), SrcPort: sport, DstPort: dport, Proto: proto},
		Info: packet.FlowInfo{Version: 4, TCPFlags: flags},
		GWLB: netip.MustParseAddrPort("10.20.0.50:60000"),
	}
}

func TestFirewall(t *testing.T) {
	fw := &Firewall{
		Rules: []Rule{
			{Allow: false, CIDR: netip.MustParsePrefix("10.0.1.10/32"), Proto: packet.ProtoTCP, Port: 22},
			{Allow: true, Proto: packet.ProtoTCP, Port: 80},
		},
		DefaultAllow: false, TCPTimeout: time.Hour, OtherTimeout: 2 * time.Minute,
	}
	now := time.Unix(0, 0)
	const syn, ack, synack = packet.TCPFlagSYN, packet.TCPFlagACK, packet.TCPFlagSYN | packet.TCPFlagACK
	steps := []struct {
		name   string
		p      *Packet
		want   Verdict
		reason string
	}{
		{"allowed SYN", pkt("198.51.100.10", "10.0.1.10", 40000, 80, 6, syn), Pass, ""},
		{"its reply", pkt("10.0.1.10", "198.51.100.10", 80, 40000, 6, synack), Pass, ""},
		{"its data", pkt("198.51.100.10", "10.0.1.10", 40000, 80, 6, ack), Pass, ""},
		{"mid-flow without a start (asymmetric routing)", pkt("198.51.100.10", "10.0.1.10", 40001, 80, 6, ack), Drop, ReasonNoConnection},
		{"denied port", pkt("198.51.100.10", "10.0.1.10", 40002, 22, 6, syn), Drop, ReasonDenied},
		{"denied connection stays denied", pkt("10.0.1.10", "198.51.100.10", 22, 40002, 6, synack), Drop, ReasonDenied},
		{"default deny for UDP", pkt("198.51.100.10", "10.0.1.10", 5000, 53, 17, 0), Drop, ReasonDenied},
	}
	for _, s := range steps {
		v, reason := fw.Handle(s.p, now)
		if v != s.want || reason != s.reason {
			t.Errorf("%s: %v %q, want %v %q", s.name, v, reason, s.want, s.reason)
		}
	}
	// An idle connection is forgotten after the session timeout.
	if v, _ := fw.Handle(pkt("198.51.100.10", "10.0.1.10", 40000, 80, 6, ack), now.Add(2*time.Hour)); v != Drop {
		t.Fatal("a connection outlived the session timeout")
	}
}

func TestFlowLogRecordsEachDirectionOnce(t *testing.T) {
	var buf bytes.Buffer
	l := NewFlowLog(&buf)
	now := time.Unix(0, 0)
	req := pkt("198.51.100.10", "10.0.1.10", 40000, 80, 6, packet.TCPFlagSYN)
	rep := pkt("10.0.1.10", "198.51.100.10", 80, 40000, 6, packet.TCPFlagSYN|packet.TCPFlagACK)
	for range 3 {
		l.Record(req, Pass, "", now)
		l.Record(rep, Pass, "", now)
	}
	l.Record(req, Drop, ReasonDenied, now)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d records:\n%s", len(lines), buf.String())
	}
	var recs []FlowRecord
	for _, line := range lines {
		var r FlowRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if recs[0].Dir != "original" || recs[0].Src != "198.51.100.10" || recs[1].Dir != "reply" || recs[1].Src != "10.0.1.10" {
		t.Fatalf("directions: %+v", recs)
	}
	if recs[2].Event != "drop" || recs[2].Reason != ReasonDenied || recs[0].GWLB != "10.20.0.50:60000" {
		t.Fatalf("drop record: %+v", recs[2])
	}
}

// sent is what an appliance under test sent: the IPv4 packets and where to.
type sent struct {
	ip []byte
	to netip.Addr
}

func testAppliance(cfg Config) (*Appliance, *[]sent) {
	app := New(cfg)
	var out []sent
	app.sendTo = func(ip []byte, to netip.Addr) error {
		out = append(out, sent{append([]byte(nil), ip...), to})
		return nil
	}
	return app, &out
}

// datagram is what a GWLB node sends an appliance on UDP 6081: the GENEVE
// header with the AWS options and an inner packet.
func datagram(t *testing.T) []byte {
	inner := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("10.0.1.10")}, 1, 2, nil)
	return append(header(t), inner...)
}

func TestReturnsOnlyToItsGWLBNodes(t *testing.T) {
	app, out := testAppliance(Config{GWLBNodes: []netip.Addr{a("10.20.0.50"), a("10.20.10.50")}})
	buf := make([]byte, 65535)
	// Another appliance (or anyone) sends it GENEVE: returning it would
	// send it back to that sender.
	app.handle(datagram(t), buf, netip.MustParseAddrPort("10.20.11.11:6081"), a("10.20.1.11"))
	if len(*out) != 0 || app.Stats().Foreign != 1 {
		t.Fatalf("sent %d packets, stats %+v", len(*out), app.Stats())
	}
	// Its GWLB nodes get their packets back.
	for _, from := range []string{"10.20.0.50:60000", "10.20.10.50:50123"} {
		gwlb := netip.MustParseAddrPort(from)
		app.handle(datagram(t), buf, gwlb, a("10.20.1.11"))
		last := (*out)[len(*out)-1]
		ip := packet.IPv4(last.ip)
		if last.to != gwlb.Addr() || ip.Dst() != gwlb.Addr() || packet.UDP(ip.Payload()).SrcPort() != gwlb.Port() {
			t.Fatalf("returned to %s (%s, port %d), want %s", last.to, ip.Dst(), packet.UDP(ip.Payload()).SrcPort(), gwlb)
		}
	}
	if s := app.Stats(); s.Received != 3 || s.Returned != 2 || s.Foreign != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Told of no node, it returns to any sender (outside a lab).
	app, out = testAppliance(Config{})
	app.handle(datagram(t), buf, netip.MustParseAddrPort("10.20.11.11:6081"), a("10.20.1.11"))
	if len(*out) != 1 {
		t.Fatalf("sent %d packets", len(*out))
	}
}

func TestControlMessagesAreNotReturned(t *testing.T) {
	app, out := testAppliance(Config{GWLBNodes: []netip.Addr{a("10.20.0.50")}})
	d := datagram(t)
	packet.Geneve(d).SetOAM(true)
	app.handle(d, make([]byte, 65535), netip.MustParseAddrPort("10.20.0.50:60000"), a("10.20.1.11"))
	if s := app.Stats(); len(*out) != 0 || s.Control != 1 || s.Returned != 0 {
		t.Fatalf("sent %d packets, stats %+v", len(*out), s)
	}
}
