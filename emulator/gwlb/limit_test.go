package gwlb

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// TestFlowLimit: a node at max_flows_per_node drops and counts packets that
// would start a flow, keeps forwarding both directions of the flows it has,
// and takes new flows again once idle ones expire.
func TestFlowLimit(t *testing.T) {
	cfg := lbConfig("5-tuple", false, false)
	cfg.MaxFlowsPerNode = 2
	const ep2 = ep1 + 1
	lb, err := newStarted(cfg, map[string][]uint64{"az1": {ep1, ep2}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	n := lb.Node("az1")
	now := epoch.Add(time.Second)
	// One flow through each endpoint: the limit is the node's.
	first := forward(t, n, udp("10.0.1.10", "198.51.100.10", 5000, 53), now)
	if _, ok := n.Forward(udp("10.0.1.10", "198.51.100.10", 5001, 53), ep2, now); !ok {
		t.Fatal("second flow dropped under the limit")
	}
	d, ok := n.Forward(udp("10.0.1.10", "198.51.100.10", 5002, 53), ep1, now)
	if ok || d.Dropped != DropFlowLimit {
		t.Fatalf("third flow: ok=%v dropped=%v", ok, d.Dropped)
	}
	if _, ok := n.Forward(udp("10.0.1.11", "198.51.100.10", 5000, 53), ep2, now); ok {
		t.Fatal("fourth flow, through the other endpoint, forwarded over the limit")
	}
	// Existing flows, both directions, go on.
	again := forward(t, n, udp("10.0.1.10", "198.51.100.10", 5000, 53), now)
	reply := forward(t, n, udp("198.51.100.10", "10.0.1.10", 53, 5000), now)
	if again.Params.Options.Cookie != first.Params.Options.Cookie || reply.Target != first.Target {
		t.Fatalf("existing flow changed at the limit: %+v, %+v", again.Params, reply.Params)
	}
	m := n.Metrics(now)
	if m.MaxFlows != 2 || m.ActiveFlowCount != 2 || m.NewFlowCount != 2 || m.Drops["flow_limit"] != 2 {
		t.Fatalf("metrics: max %d active %d new %d flow_limit %d", m.MaxFlows, m.ActiveFlowCount, m.NewFlowCount, m.Drops["flow_limit"])
	}
	// The other node has its own limit, untouched.
	if m := lb.Node("az2").Metrics(now); m.MaxFlows != 2 || m.Drops["flow_limit"] != 0 {
		t.Fatalf("az2 metrics %+v", m)
	}
	// Once the flows idle out and are swept, there is room again.
	later := now.Add(121 * time.Second)
	n.Expire(later)
	forward(t, n, udp("10.0.1.10", "198.51.100.10", 5002, 53), later)
}

func TestDefaultFlowLimit(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	if got := n.Metrics(epoch).MaxFlows; got != config.DefaultMaxFlowsPerNode {
		t.Fatalf("MaxFlows = %d, want the default %d", got, config.DefaultMaxFlowsPerNode)
	}
}

// BenchmarkFlowMemory reports the heap a node's flow table holds per flow
// (heap-B/flow), the figure behind the default flow limit: the process
// needs about twice that with the garbage collector's headroom.
func BenchmarkFlowMemory(b *testing.B) {
	const flows = 100_000
	pkts := make([][]byte, flows)
	for i := range pkts {
		src := netip.AddrFrom4([4]byte{10, 1, byte(i >> 16), byte(i >> 8)})
		pkts[i] = packet.AppendUDP(nil, packet.IPHeader{Src: src, Dst: a("198.51.100.10")}, uint16(1024+i%256), 53, nil)
	}
	var perFlow float64
	for b.Loop() {
		cfg := lbConfig("5-tuple", false, false)
		cfg.MaxFlowsPerNode = flows
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		lb, err := newStarted(cfg, map[string][]uint64{"az1": {ep1}}, epoch)
		if err != nil {
			b.Fatal(err)
		}
		n := lb.Node("az1")
		for _, p := range pkts {
			if _, ok := n.Forward(p, ep1, epoch); !ok {
				b.Fatal("flow dropped under the limit")
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perFlow = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / flows
		runtime.KeepAlive(lb)
	}
	b.ReportMetric(perFlow, "heap-B/flow")
}
