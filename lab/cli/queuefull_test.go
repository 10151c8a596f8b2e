package cli

import (
	"bytes"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestStatusShowsQueueFull(t *testing.T) {
	var b bytes.Buffer
	printQueueFull(&b, []api.PortCounters{{Node: "client"}, {Node: "fw-1", QueueFull: 40}, {Node: "web", QueueFull: 2}})
	want := "write queue full (the node takes frames more slowly than they come): fw-1=40, web=2\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	printQueueFull(&b, []api.PortCounters{{Node: "client"}})
	if b.Len() != 0 {
		t.Fatalf("printed %q with no queue drops", b.String())
	}
}
