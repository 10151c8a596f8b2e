package fabric

import (
	goruntime "runtime"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// mqPort is a fake port with two receive queues: the fakePort itself
// (queue 0, which also takes every write) and q1.
type mqPort struct {
	*fakePort
	q1 *fakePort
}

func (p *mqPort) Queues() []port.Reader { return []port.Reader{p.fakePort, p.q1} }

func (p *mqPort) Close() error {
	p.q1.Close()
	return p.fakePort.Close()
}

// A port with two queues is read on both, each by its own reader, and a
// node added at run time with such a port leaves no reader behind when
// it is removed.
func TestMultiQueuePortReadsEveryQueue(t *testing.T) {
	h := newHarness(t, plainVPC())
	h.runForwarding(t)
	baseline := goruntime.NumGoroutine()
	for round := range 10 {
		mp := &mqPort{fakePort: newFakePort("web3"), q1: newFakePort("web3/1")}
		if err := h.f.AddNode(web3(), mp); err != nil {
			t.Fatal(err)
		}
		// One flow per queue; each flow's frames must arrive in order.
		const per = 5
		for i := range per {
			mp.in <- tcpFrame(macWeb, macWeb3, "10.0.1.12", "10.0.1.10", 40000, uint16(1000+i))
			mp.q1.in <- tcpFrame(macWeb, macWeb3, "10.0.1.12", "10.0.1.10", 40001, uint16(1000+i))
		}
		next := map[uint16]uint16{40000: 1000, 40001: 1000}
		for range 2 * per {
			select {
			case f := <-h.ports["web"].out:
				ip := checkIP(t, f, macWeb, "10.0.1.12", "10.0.1.10")
				l4 := ip.Payload()
				sport, dport := uint16(l4[0])<<8|uint16(l4[1]), uint16(l4[2])<<8|uint16(l4[3])
				if dport != next[sport] {
					t.Fatalf("round %d: flow from port %d: got dport %d, want %d", round, sport, dport, next[sport])
				}
				next[sport]++
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: frames not forwarded, next %v; drops %v", round, next, nonZeroDrops(h.f))
			}
		}
		if err := h.f.RemoveNode("web3"); err != nil {
			t.Fatal(err)
		}
		if !isClosedPort(mp.fakePort) || !isClosedPort(mp.q1) {
			t.Fatalf("round %d: a queue left open", round)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before adding and removing nodes", goruntime.NumGoroutine(), baseline)
		}
		goruntime.Gosched()
	}
}
