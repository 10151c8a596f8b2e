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

func TestStatusShowsOffloadTrouble(t *testing.T) {
	var b bytes.Buffer
	fine := &api.PortOffload{Negotiated: "vnet_hdr,csum,tso4,tso6", SuperFrames: 10, Segments: 400, Coalesced: 3}
	printTAPDrops(&b, []api.PortCounters{
		{Node: "client", TAP: &api.QueueDrops{}, Offload: fine},
		{Node: "fw-1", TAP: &api.QueueDrops{}, Offload: &api.PortOffload{Negotiated: "none (IFF_VNET_HDR: invalid argument)"}},
		{Node: "web", TAP: &api.QueueDrops{}, Offload: &api.PortOffload{Negotiated: "vnet_hdr,csum", Dropped: 2, CoalesceOff: "refused"}},
	})
	want := "tap offloads: fw-1: none (IFF_VNET_HDR: invalid argument), web: 2 frames dropped unsplit, coalescing off (refused)\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	printTAPDrops(&b, []api.PortCounters{{Node: "client", TAP: &api.QueueDrops{}, Offload: fine}})
	if b.Len() != 0 {
		t.Fatalf("printed %q for offloads that work", b.String())
	}
}

func TestStatusShowsPortFailures(t *testing.T) {
	var b bytes.Buffer
	printPortFailures(&b, []api.PortCounters{
		{Node: "client"},
		{Node: "fw-1", WriteErrors: 7, WriteError: "write /dev/net/tun: input/output error"},
		{Node: "web", ReadError: "read /dev/net/tun: file descriptor in bad state"},
	})
	want := "port failures: fw-1: 7 writes failed (first: write /dev/net/tun: input/output error); " +
		"web: reading stopped (read /dev/net/tun: file descriptor in bad state), nothing it sends is forwarded; gwlb-lab emulator restart starts it again\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	printPortFailures(&b, []api.PortCounters{{Node: "client"}})
	if b.Len() != 0 {
		t.Fatalf("printed %q for healthy ports", b.String())
	}
}
