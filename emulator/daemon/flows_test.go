package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// listFlows reads a flow listing over the control socket.
func listFlows(t *testing.T, c *control.Client, query string) ([]api.Flow, api.FlowSummary) {
	t.Helper()
	flows, sum, err := tryListFlows(c, query)
	if err != nil {
		t.Fatalf("flows?%s: %v", query, err)
	}
	return flows, sum
}

func tryListFlows(c *control.Client, query string) ([]api.Flow, api.FlowSummary, error) {
	body, err := c.Stream(context.Background(), "/v1/flows?"+query)
	if err != nil {
		return nil, api.FlowSummary{}, err
	}
	defer body.Close()
	var flows []api.Flow
	sum, err := api.ReadFlows(body, func(f api.Flow) error {
		flows = append(flows, f)
		return nil
	})
	return flows, sum, err
}

// makeFlows starts udp UDP flows from 10.0.1.10 and tcp TCP flows from
// 10.0.1.20, all to 198.51.100.10, through the fixture's endpoint.
func makeFlows(t testing.TB, f *fabric.Fabric, udp, tcp int) {
	// Past the lab's start: the targets answered their first checks.
	for _, lb := range f.LBs() {
		for _, n := range lb.Nodes() {
			for _, tg := range lb.Targets() {
				n.SetHealth(tg.Index(), health.Status{State: health.Healthy})
			}
		}
	}
	t.Helper()
	eps := f.Endpoints()
	ep, err := config.EndpointNumber(eps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	n := f.LBs()[0].Nodes()[0]
	dst := netip.MustParseAddr("198.51.100.10")
	for i := range udp {
		src := netip.AddrFrom4([4]byte{10, 0, 1, 10})
		if i >= 60000 {
			src = netip.AddrFrom4([4]byte{10, 0, 3, byte(i / 60000)})
		}
		inner := packet.AppendUDP(nil, packet.IPHeader{Src: src, Dst: dst}, uint16(1024+i%60000), 53, []byte("q"))
		if _, ok := n.Forward(inner, ep, f.Now()); !ok {
			t.Fatalf("udp flow %d dropped", i)
		}
	}
	for i := range tcp {
		inner := packet.AppendTCP(nil, packet.IPHeader{Src: netip.MustParseAddr("10.0.1.20"), Dst: dst},
			packet.TCPHeader{SrcPort: uint16(40000 + i), DstPort: 80, Flags: packet.TCPFlagSYN, Window: 1000}, nil)
		if _, ok := n.Forward(inner, ep, f.Now()); !ok {
			t.Fatalf("tcp flow %d dropped", i)
		}
	}
}

// TestFlowListing: filters, paging and the summary of the streamed flow
// listing, over the control socket.
func TestFlowListing(t *testing.T) {
	d, c, _ := startDaemon(t)
	makeFlows(t, d.Fabric(), 300, 5)
	ep := d.Fabric().Endpoints()[0]

	all, sum := listFlows(t, c, "")
	if len(all) != 305 || sum != (api.FlowSummary{Matched: 305, Listed: 305}) {
		t.Fatalf("unfiltered: %d flows, summary %+v", len(all), sum)
	}
	for _, f := range all {
		if f.GWLB != "gwlb-1" || f.Node != "gwlb-1-az1" || f.Endpoint != ep.ID || f.Cookie == "" || f.OrigPackets != 1 {
			t.Fatalf("flow %+v", f)
		}
	}
	perTarget := 0
	for _, target := range []string{"fw-1", "fw-2"} {
		flows, _ := listFlows(t, c, "target="+target)
		for _, f := range flows {
			if f.Target != target {
				t.Fatalf("target=%s listed a flow of %s", target, f.Target)
			}
		}
		perTarget += len(flows)
	}
	if perTarget != 305 {
		t.Fatalf("targets' flows add up to %d, want 305", perTarget)
	}
	byName, _ := listFlows(t, c, "target=fw-1")
	byAddr, _ := listFlows(t, c, "target=10.20.1.11")
	if len(byName) != len(byAddr) {
		t.Fatalf("target by name %d flows, by address %d", len(byName), len(byAddr))
	}

	for _, tt := range []struct {
		query string
		want  int
	}{
		{"host=10.0.1.20", 5},
		{"host=198.51.100.10", 305}, // the responder's end matches too
		{"host=10.0.1.0/24", 305},
		{"host=10.0.2.0/24", 0},
		{"host=10.0.2.1&host=10.0.1.20", 5},
		{"proto=tcp", 5},
		{"proto=17", 300},
		{"proto=tcp&host=10.0.1.10", 0},
		{"endpoint=" + ep.Name, 305},
		{"endpoint=" + ep.ID, 305},
		{"node=gwlb-1-az1", 305},
		{"gwlb=gwlb-1", 305},
	} {
		flows, sum := listFlows(t, c, tt.query)
		if len(flows) != tt.want || sum.Matched != tt.want || sum.Listed != tt.want {
			t.Errorf("%s: %d flows, summary %+v; want %d", tt.query, len(flows), sum, tt.want)
		}
	}

	// Pages: every flow once, the total in every summary.
	seen := map[string]bool{}
	for offset := 0; offset < 400; offset += 100 {
		flows, sum := listFlows(t, c, fmt.Sprintf("offset=%d&limit=100", offset))
		want := min(100, max(305-offset, 0))
		if len(flows) != want || sum != (api.FlowSummary{Matched: 305, Listed: want, Offset: offset, Limit: 100}) {
			t.Fatalf("page at %d: %d flows, summary %+v", offset, len(flows), sum)
		}
		for _, f := range flows {
			key := f.Src + ">" + f.Dst
			if seen[key] {
				t.Fatalf("flow %s on two pages", key)
			}
			seen[key] = true
		}
	}
	if len(seen) != 305 {
		t.Fatalf("pages held %d flows, want 305", len(seen))
	}
	if flows, sum := listFlows(t, c, "limit=0&proto=tcp"); len(flows) != 0 || sum.Matched != 5 || sum.Listed != 0 {
		t.Fatalf("count only: %d flows, summary %+v", len(flows), sum)
	}

	for _, q := range []string{"target=fw-9", "node=nope", "gwlb=nope", "endpoint=gwlbe-9"} {
		if _, _, err := tryListFlows(c, q); !errors.Is(err, control.ErrNotFound) {
			t.Errorf("%s: %v, want not found", q, err)
		}
	}
	for _, q := range []string{"host=10.0.1", "proto=tcpx", "proto=256", "limit=-1", "offset=x"} {
		if _, _, err := tryListFlows(c, q); !errors.Is(err, control.ErrBadRequest) {
			t.Errorf("%s: %v, want bad request", q, err)
		}
	}
}

// TestFlowListingMemoryFlat: listing flows allocates nothing per flow, so
// the emulator's memory stays flat however many flows it lists.
func TestFlowListingMemoryFlat(t *testing.T) {
	d, _, _ := startDaemon(t)
	allocs := func(flows int) float64 {
		return testing.AllocsPerRun(5, func() {
			sum, err := d.writeFlows(context.Background(), io.Discard, fabric.FlowQuery{}, flowPage{limit: -1})
			if err != nil || sum.Listed != flows {
				t.Fatalf("listed %d of %d: %v", sum.Listed, flows, err)
			}
		})
	}
	makeFlows(t, d.Fabric(), 1000, 0)
	small := allocs(1000)
	makeFlows(t, d.Fabric(), 4000, 0) // the first 1000 again (no new flows) and 3000 more
	large := allocs(4000)
	t.Logf("allocations per listing: %.0f for 1000 flows, %.0f for 4000", small, large)
	if perFlow := (large - small) / 3000; perFlow > 0.01 {
		t.Fatalf("%.0f allocations listing 1000 flows, %.0f listing 4000: %.3f per flow", small, large, perFlow)
	}
}

// BenchmarkFlowListing lists 20,000 flows as the control API writes them;
// B/op and allocs/op are per listing, flows/s the rate.
func BenchmarkFlowListing(b *testing.B) {
	d, _, _ := startDaemon(b)
	const flows = 20_000
	makeFlows(b, d.Fabric(), flows, 0)
	b.ReportAllocs()
	for b.Loop() {
		if sum, err := d.writeFlows(context.Background(), io.Discard, fabric.FlowQuery{}, flowPage{limit: -1}); err != nil || sum.Listed != flows {
			b.Fatalf("listed %d: %v", sum.Listed, err)
		}
	}
	b.ReportMetric(float64(flows)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
