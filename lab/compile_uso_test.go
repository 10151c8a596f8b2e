package lab

import (
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// TestCompileUDPCoalesce: only the ports of reference appliances that read
// GENEVE through a UDP socket (forward and firewall modes) coalesce UDP
// runs; tunnel mode's and every other node's port writes each datagram.
func TestCompileUDPCoalesce(t *testing.T) {
	l := resolveDefault(t)
	var appl []*topology.Node
	for i := range l.Nodes {
		if r := l.Nodes[i].Run; r != nil && r.Appliance != nil {
			appl = append(appl, &l.Nodes[i])
		}
	}
	if len(appl) < 2 {
		t.Fatalf("the default lab has %d reference appliances, the test needs 2", len(appl))
	}
	appl[0].Run.Appliance.Mode = topology.ApplianceFirewall
	appl[1].Run.Appliance.Mode = topology.ApplianceTunnel
	s, err := Compile(l, InDir("/run/netns"), "/run/gwlb-lab/unit/control.sock")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range appl {
		want[n.Name] = n.Run.Appliance.Mode != topology.ApplianceTunnel
	}
	enis := map[string]config.ENI{}
	for _, e := range s.AllENIs() {
		enis[e.Node] = e
	}
	on := 0
	for _, n := range l.Nodes {
		if got := enis[n.Name].UDPCoalesce; got != want[n.Name] {
			t.Errorf("node %s: UDPCoalesce %v, want %v", n.Name, got, want[n.Name])
		} else if got {
			on++
		}
	}
	if on == 0 {
		t.Fatal("no port coalesces UDP")
	}
}
