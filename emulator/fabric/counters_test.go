package fabric

import (
	"errors"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// queuePort is a fake port with a kernel queue that dropped frames.
type queuePort struct {
	*fakePort
	drops port.QueueDrops
	err   error
}

func (p *queuePort) QueueDrops() (port.QueueDrops, error) { return p.drops, p.err }

func TestCountersShowTAPQueueDrops(t *testing.T) {
	s := plainVPC()
	ports := map[string]Port{}
	for _, e := range s.AllENIs() {
		ports[e.Node] = newFakePort(e.Node)
	}
	ports["web"] = &queuePort{fakePort: newFakePort("web"), drops: port.QueueDrops{TxDropped: 7, RxDropped: 1}}
	ports["db"] = &queuePort{fakePort: newFakePort("db"), drops: port.QueueDrops{TxDropped: 5}}
	ports["client"] = &queuePort{fakePort: newFakePort("client"), err: errors.New("no answer")}
	f, err := New(s, Options{Clock: clock.NewManual(time.Unix(1e9, 0)), Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	markHealthy(f)
	c := f.Counters()
	// The sum of what the nodes sent and the emulator did not read in
	// time is among the drops, beside the fabric's own reasons.
	if got := c.Drops[DropTAPQueue]; got != 12 {
		t.Fatalf("%s = %d, want 12; drops %v", DropTAPQueue, got, c.Drops)
	}
	for _, pc := range c.Ports {
		switch pc.Node {
		case "web":
			if pc.TAP == nil || *pc.TAP != (api.QueueDrops{TxDropped: 7, RxDropped: 1}) {
				t.Errorf("web: %+v", pc.TAP)
			}
		case "client":
			if pc.TAP != nil || pc.TAPError != "no answer" {
				t.Errorf("client: %+v %q", pc.TAP, pc.TAPError)
			}
		}
	}
	// A lab without TAPs still lists the key, at 0.
	h := newHarness(t, plainVPC())
	if v, ok := h.f.Counters().Drops[DropTAPQueue]; !ok || v != 0 {
		t.Fatalf("%s: %d %v", DropTAPQueue, v, ok)
	}
}
