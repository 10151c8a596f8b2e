package cli

import (
	"bytes"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestStatusShowsTAPDrops(t *testing.T) {
	var b bytes.Buffer
	printTAPDrops(&b, []api.PortCounters{
		{Node: "client", TAP: &api.QueueDrops{}},
		{Node: "fw-1", TAP: &api.QueueDrops{TxDropped: 12, RxDropped: 1}},
		{Node: "web", TAPError: "link statistics: timeout"},
	})
	want := "tap queue drops: fw-1 tx_dropped=12 rx_dropped=1\ntap counters unreadable: web: link statistics: timeout\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	printTAPDrops(&b, []api.PortCounters{{Node: "client", TAP: &api.QueueDrops{}}})
	if b.Len() != 0 {
		t.Fatalf("printed %q for no drops", b.String())
	}
}
