package daemon

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/emulator/pcap"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// The default lab as `up` compiles it, with in-memory ports instead of TAPs.
func startDefault(t *testing.T) (*control.Client, map[string]port.Port) {
	t.Helper()
	_, c, peers := startDaemon(t)
	return c, peers
}

// startDaemon is startDefault that also returns the daemon, for tests that
// drive its fabric directly.
func startDaemon(t testing.TB) (*Daemon, *control.Client, map[string]port.Port) {
	t.Helper()
	snap, err := config.Load("testdata/default-lab.json")
	if err != nil {
		t.Fatal(err)
	}
	return startSnapshot(t, snap)
}

// startSnapshot is startDaemon on a configuration of the caller's.
// startHook, when set, sees the daemon before it runs.
var startHook func(*Daemon)

func startSnapshot(t testing.TB, snap *config.Snapshot) (*Daemon, *control.Client, map[string]port.Port) {
	t.Helper()
	snap.ControlSocket = filepath.Join(t.TempDir(), "control.sock")
	peers := map[string]port.Port{}
	d, err := New(snap, func(e config.ENI) (fabric.Port, error) {
		a, b := port.NewPipe(e.Node, e.MTU)
		peers[e.Node] = b
		return a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if startHook != nil {
		startHook(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
		if _, err := os.Stat(snap.ControlSocket); !os.IsNotExist(err) {
			t.Error("control socket left behind")
		}
	})
	c := control.NewClient(snap.ControlSocket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var s api.Status
		if err := c.Get(ctx, "/v1/status", &s); err == nil {
			if s.Lab != "fixture" || len(s.Ports) != len(snap.AllENIs()) {
				t.Fatalf("status %+v", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("control socket never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d, c, peers
}

func TestControlAPI(t *testing.T) {
	c, peers := startDefault(t)
	ctx := context.Background()

	// The ports are wired: the subnet router answers the client's ARP.
	client := peers["client"]
	req := packet.AppendARPRequest(nil, packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.1"))
	if _, err := client.Write([][]byte{req}, 0); err != nil {
		t.Fatal(err)
	}
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	if n, err := client.Read(bufs, sizes, 0); err != nil || n != 1 || packet.ARP(bufs[0][packet.EthernetLen:sizes[0]]).Op() != packet.ARPReply {
		t.Fatalf("no ARP reply: %v", err)
	}

	var counters api.Counters
	if err := c.Get(ctx, "/v1/counters", &counters); err != nil || len(counters.Ports) != 5 || len(counters.GWLB) != 1 {
		t.Fatalf("counters %+v %v", counters, err)
	}
	if flows, sum := listFlows(t, c, ""); len(flows) != 0 || sum.Matched != 0 {
		t.Fatalf("flows %+v %+v", flows, sum)
	}
	var eps []api.Endpoint
	if err := c.Get(ctx, "/v1/endpoints", &eps); err != nil || len(eps) != 1 || eps[0].State != "available" {
		t.Fatalf("endpoints %+v %v", eps, err)
	}
	if err := c.Post(ctx, "/v1/endpoints/nope/accept", nil, nil); !errors.Is(err, control.ErrNotFound) || err.Error() != `gwlb endpoint "nope": not found` {
		t.Fatalf("accepting an unknown endpoint: %v", err)
	}

	state := func(target string) string {
		var ts []api.TargetHealth
		if err := c.Get(ctx, "/v1/targets", &ts); err != nil {
			t.Fatal(err)
		}
		for _, th := range ts {
			if th.Target == target {
				return th.State
			}
		}
		t.Fatalf("no target %s in %+v", target, ts)
		return ""
	}
	// A starting lab's targets are initial until their first check.
	if s := state("fw-1"); s != "initial" {
		t.Fatalf("fw-1 starts %s", s)
	}
	if err := c.Post(ctx, "/v1/targets/fw-1/deregister", nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := state("fw-1"); s != "draining" {
		t.Fatalf("after deregister: %s", s)
	}
	if err := c.Post(ctx, "/v1/targets/fw-1/register", nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := state("fw-1"); s != "initial" {
		t.Fatalf("after register: %s", s)
	}
	if err := c.Post(ctx, "/v1/targets/fw-9/deregister", nil, nil); !errors.Is(err, control.ErrNotFound) || err.Error() != `target "fw-9" is in no target group` {
		t.Fatalf("deregistering an unknown target: %v", err)
	}
	if err := c.Post(ctx, "/v1/targets/fw-9/register", nil, nil); !errors.Is(err, control.ErrNotFound) || err.Error() != `no instance "fw-9" in lab "fixture"; its instances: fw-1, fw-2, web` {
		t.Fatalf("registering an unknown instance: %v", err)
	}
}

func TestCaptureStream(t *testing.T) {
	c, peers := startDefault(t)
	ctx := context.Background()
	if _, err := c.Stream(ctx, "/v1/capture?node=nobody&count=1"); !errors.Is(err, control.ErrNotFound) || err.Error() != `node "nobody": not found` {
		t.Fatalf("capture of an unknown node: %v", err)
	}
	body, err := c.Stream(ctx, "/v1/capture?node=client&count=2&seconds=10")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	r, err := pcap.NewReader(body) // the header arrives before any frame
	if err != nil {
		t.Fatal(err)
	}
	req := packet.AppendARPRequest(nil, packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.1"))
	if _, err := peers["client"].Write([][]byte{req}, 0); err != nil {
		t.Fatal(err)
	}
	first, err := r.Next()
	if err != nil || string(first.Data) != string(req) {
		t.Fatalf("first frame % x, %v", first.Data, err)
	}
	second, err := r.Next()
	if err != nil || packet.ARP(second.Data[packet.EthernetLen:]).Op() != packet.ARPReply {
		t.Fatalf("second frame % x, %v", second.Data, err)
	}
	if _, err := r.Next(); err == nil {
		t.Fatal("the stream went on past its count")
	}
}

// restarted is what an emulator restart makes of snap: a new daemon, on
// ports nobody is attached to, that takes back the edits kept in path.
func restarted(t *testing.T, snap *config.Snapshot, path string) *Daemon {
	t.Helper()
	d, err := New(snap, func(e config.ENI) (fabric.Port, error) {
		a, _ := port.NewPipe(e.Node, e.MTU)
		return a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.KeepEdits(path); err != nil {
		t.Fatal(err)
	}
	return d
}
