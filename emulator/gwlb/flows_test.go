package gwlb

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// TestFlowJSON: the listing's hand-written JSON decodes to the same Flow as
// encoding/json gives for the fields built the slow way, names with quotes,
// control characters and non-ASCII included.
func TestFlowJSON(t *testing.T) {
	cfg := lbConfig("5-tuple", false, false)
	cfg.Name = "gw\"lb\\ü\x01\xff"
	cfg.TargetGroup.Targets[0].Name = "fw <1> & é"
	cfg.TargetGroup.Targets[1].Name = cfg.TargetGroup.Targets[0].Name
	lb, err := newStarted(cfg, map[string][]uint64{"az1": {ep1}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	n := lb.Node("az1")
	t0 := epoch.Add(time.Second)
	forward(t, n, udp("10.0.1.10", "198.51.100.10", 5000, 53), t0)
	forward(t, n, udp("198.51.100.10", "10.0.1.10", 53, 5000), t0.Add(1500*time.Millisecond))
	icmp := packet.AppendICMPEcho(nil, packet.IPHeader{Src: a("2001:db8::1"), Dst: a("2001:db8::2")}, false, 1, 1, nil)
	forward(t, n, icmp, t0)
	now := t0.Add(100*time.Second + 40*time.Millisecond)
	var got []api.Flow
	n.WalkFlows(now, &FlowFilter{}, nil, func(r FlowRef) bool {
		var f api.Flow
		if err := json.Unmarshal(r.AppendJSON(nil), &f); err != nil {
			t.Fatalf("invalid JSON %s: %v", r.AppendJSON(nil), err)
		}
		tg := lb.targetAt(r.Entry.Target)
		at := lb.since(now)
		e := r.Entry
		want := api.Flow{
			GWLB: lb.Name, Node: n.Name, AZ: n.AZ, Endpoint: packet.AWSOptions{EndpointID: ep1}.EndpointName(),
			Src: string(appendAddrPort(nil, e.Key.Src, e.Key.SrcPort, e.Key.Proto)), Dst: string(appendAddrPort(nil, e.Key.Dst, e.Key.DstPort, e.Key.Proto)),
			Proto: e.Key.Proto, Target: tg.Name, TargetIP: tg.IP.String(), Cookie: formatCookie(e.Cookie), OuterPort: e.OuterPort,
			Age: (at - e.Created).Round(time.Millisecond).String(), Idle: (at - e.LastSeen).Round(time.Millisecond).String(),
			OrigPackets: e.Packets[flow.Original], OrigBytes: e.Bytes[flow.Original], ReplyPackets: e.Packets[flow.Reply], ReplyBytes: e.Bytes[flow.Reply],
		}
		// encoding/json's view of the same strings (it, too, turns invalid
		// UTF-8 into U+FFFD).
		b, _ := json.Marshal(want)
		var slow api.Flow
		_ = json.Unmarshal(b, &slow)
		if f != slow {
			t.Errorf("listing %+v\nencoding/json %+v", f, slow)
		}
		got = append(got, f)
		return true
	})
	if len(got) != 2 {
		t.Fatalf("%d flows listed, want 2", len(got))
	}
	if fs := n.Flows(now); len(fs) != 2 || fs[0].Age != "1m40.04s" {
		t.Fatalf("Flows: %+v", fs)
	}
}

func formatCookie(c uint32) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		out[i] = hex[c&0xf]
		c >>= 4
	}
	return string(out)
}

// TestAppendDuration: the listing's durations read as time.Duration prints
// them, for the whole milliseconds listings show.
func TestAppendDuration(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []time.Duration{0, time.Millisecond, 999 * time.Millisecond, time.Second, time.Minute, time.Hour,
		time.Hour + 10*time.Millisecond, 61*time.Second + 100*time.Millisecond, -1500 * time.Millisecond, 1000 * time.Hour}
	for range 10000 {
		cases = append(cases, time.Duration(r.Int64N(int64(200*time.Hour))).Round(time.Millisecond))
	}
	for _, d := range cases {
		if got := string(appendDuration(nil, d)); got != d.String() {
			t.Fatalf("appendDuration(%d) = %q, want %q", d, got, d.String())
		}
	}
}

// TestFlowAppendDoesNotAllocate: with room in the buffer, a flow's JSON
// costs no allocation.
func TestFlowAppendDoesNotAllocate(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	forward(t, n, tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN), epoch)
	var ref FlowRef
	var e flow.Entry
	n.WalkFlows(epoch.Add(90*time.Second), &FlowFilter{}, nil, func(r FlowRef) bool { e = *r.Entry; ref = r; return false })
	ref.Entry = &e
	buf := make([]byte, 0, 1024)
	if allocs := testing.AllocsPerRun(100, func() { buf = ref.AppendJSON(buf[:0]) }); allocs != 0 {
		t.Fatalf("%.1f allocations per flow", allocs)
	}
}
