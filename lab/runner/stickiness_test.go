package runner

import (
	"fmt"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/echo"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// With 2-tuple stickiness a GWLB node keeps one flow per address pair,
// listed with the ports of the connection that made it. A connection of
// the pair is that node's flow when its packets met the node, whatever its
// ports, and not the flow another node keeps for the same pair.
func TestMatchTwoTupleByNodeMet(t *testing.T) {
	for _, stickiness := range []topology.Stickiness{topology.TwoTuple, topology.FiveTuple} {
		t.Run(string(stickiness), func(t *testing.T) {
			topo := &topology.Lab{GWLBs: []topology.GWLB{{Name: "gwlb-1", TargetGroup: topology.TargetGroup{Stickiness: stickiness}}}}
			rn := &run{topo: topo}
			tr := &trafficRun{res: &TrafficResult{Protocol: "http"}}
			for i, port := range []int{41000, 41001, 41002} {
				tr.res.Flows = append(tr.res.Flows, echo.FlowResult{Flow: i, Protocol: "http",
					Local: fmt.Sprintf("10.1.1.10:%d", port), Remote: "10.2.2.10:80", OK: true})
			}
			// The pair's flows: made by 41000 on az1, by 41001 on az2.
			tr.flows = []Flow{
				{GWLB: "gwlb-1", Node: "gwlb-1-az1", Src: "10.1.1.10:41000", Dst: "10.2.2.10:80", Proto: 6, Target: "fw-az1", OrigPackets: 9, ReplyPackets: 6},
				{GWLB: "gwlb-1", Node: "gwlb-1-az2", Src: "10.1.1.10:41001", Dst: "10.2.2.10:80", Proto: 6, Target: "fw-az2", OrigPackets: 3, ReplyPackets: 2},
			}
			// 41000 and 41002 met az1's node, 41001 az2's.
			for port, node := range map[int]string{41000: "gwlb-1-az1", 41001: "gwlb-1-az2", 41002: "gwlb-1-az1"} {
				tr.addTrace(Trace{From: "a1", Packet: fmt.Sprintf("tcp 10.1.1.10:%d -> 10.2.2.10:80 [S], 60 bytes", port),
					Hops: []string{"gwlb endpoint gwlbe (vpce-1, az az1): to gwlb node " + node, "gwlb node " + node + ": new flow -> target x, cookie 1"}})
				tr.addTrace(Trace{From: "b2", Packet: fmt.Sprintf("tcp 10.2.2.10:80 -> 10.1.1.10:%d [S.], 60 bytes", port),
					Hops: []string{"gwlb node " + node + ": existing flow -> target x, cookie 1"}})
			}
			obs := rn.match(tr)
			want := map[topology.Stickiness][]string{
				topology.TwoTuple:  {"fw-az1", "fw-az2", "fw-az1"},
				topology.FiveTuple: {"fw-az1", "fw-az2", ""}, // 41002 has no flow of its own
			}[stickiness]
			for i, o := range obs {
				got := ""
				for _, e := range o.entries {
					got += e.Target
				}
				if got != want[i] {
					t.Errorf("%s: targets %q, want %q", o.label, got, want[i])
				}
				if len(o.entries) == 1 && !o.fwd[0] {
					t.Errorf("%s: taken for the reply direction", o.label)
				}
			}
		})
	}
}
