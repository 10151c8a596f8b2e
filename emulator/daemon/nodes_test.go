package daemon

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// pipeOpener opens in-memory ports and keeps the far end of each, safe to
// use from the control handlers.
type pipeOpener struct {
	mu    sync.Mutex
	peers map[string]port.Port
	ends  []port.Port     // the emulator's ends, in the order opened
	udp   map[string]bool // ENI.UDPCoalesce of each node opened
}

func (o *pipeOpener) openPort(e config.ENI) (fabric.Port, error) {
	a, b := port.NewPipe(e.Node, e.MTU)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.peers == nil {
		o.peers = map[string]port.Port{}
	}
	o.peers[e.Node] = b
	o.ends = append(o.ends, a)
	if o.udp == nil {
		o.udp = map[string]bool{}
	}
	o.udp[e.Node] = e.UDPCoalesce
	return a, nil
}

// open reports which of the emulator's ends are still open (a closed
// pipe end refuses writes).
func (o *pipeOpener) stillOpen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, e := range o.ends {
		if _, err := e.Write(nil, 0); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

func (o *pipeOpener) peer(node string) port.Port {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.peers[node]
}

// fakeNetNS stands for a node's namespace: the daemon only checks that the
// path exists before it opens the port.
func fakeNetNS(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNodeAPI(t *testing.T) {
	d, c, _ := startDaemon(t)
	ctx := context.Background()
	var o pipeOpener
	d.open = o.openPort
	edits := filepath.Join(t.TempDir(), "runtime-edits.json")
	if err := d.KeepEdits(edits); err != nil {
		t.Fatal(err)
	}
	fw3 := api.Node{Name: "fw-3", Subnet: "appliances", IP: "10.20.1.13", MAC: "02:00:00:20:01:13", NetNS: fakeNetNS(t, "fw-3"), UDPCoalesce: true}
	var added api.Node
	if err := c.Post(ctx, api.PathNodes, fw3, &added); err != nil {
		t.Fatal(err)
	}
	if added.VPC != "security" || added.Interface != "eth0" || added.MTU != 9001 || added.SourceDestCheck == nil || !*added.SourceDestCheck {
		t.Fatalf("added %+v", added)
	}
	o.mu.Lock()
	udp := o.udp["fw-3"]
	o.mu.Unlock()
	if !added.UDPCoalesce || !udp {
		t.Fatalf("udp_coalesce: answered %v, port opened with %v; want both true", added.UDPCoalesce, udp)
	}
	var listed []api.Node
	if err := c.Get(ctx, api.PathNodes, &listed); err != nil || len(listed) != 1 || listed[0].Name != "fw-3" {
		t.Fatalf("nodes %+v %v", listed, err)
	}
	var st api.Status
	if err := c.Get(ctx, api.PathStatus, &st); err != nil || len(st.Ports) != 6 || st.Ports[5].Node != "fw-3" {
		t.Fatalf("status ports %+v %v", st.Ports, err)
	}

	// Its port is read: the subnet router answers its ARP.
	peer := o.peer("fw-3")
	req := packet.AppendARPRequest(nil, packet.MAC{2, 0, 0, 0x20, 1, 0x13}, netip.MustParseAddr("10.20.1.13"), netip.MustParseAddr("10.20.1.1"))
	if _, err := peer.Write([][]byte{req}, 0); err != nil {
		t.Fatal(err)
	}
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	if n, err := peer.Read(bufs, sizes, 0); err != nil || n != 1 || packet.ARP(bufs[0][packet.EthernetLen:sizes[0]]).Op() != packet.ARPReply {
		t.Fatalf("no ARP reply to the added node: %v", err)
	}

	fw4NetNS := fakeNetNS(t, "fw-4")
	with := func(change func(*api.Node)) api.Node {
		n := fw3
		n.Name = "fw-4"
		n.IP = "10.20.1.14"
		n.MAC = "02:00:00:20:01:14"
		n.NetNS = fw4NetNS
		change(&n)
		return n
	}
	for _, c2 := range []struct {
		name string
		body any
		want error
		text string
	}{
		{"name taken", with(func(n *api.Node) { n.Name = "fw-3" }), control.ErrBadRequest, `the name "fw-3" is taken`},
		{"no name", with(func(n *api.Node) { n.Name = "" }), control.ErrBadRequest, "a node name is required"},
		{"address taken", with(func(n *api.Node) { n.IP = "10.20.1.11" }), control.ErrBadRequest, "already used"},
		{"not an address", with(func(n *api.Node) { n.IP = "ten" }), control.ErrBadRequest, "not an address"},
		{"bad MAC", with(func(n *api.Node) { n.MAC = "zz" }), control.ErrBadRequest, "invalid MAC"},
		{"MAC taken", with(func(n *api.Node) { n.MAC = "02:00:00:20:01:13" }), control.ErrBadRequest, "already used"},
		{"no namespace", with(func(n *api.Node) { n.NetNS = filepath.Join(t.TempDir(), "gone") }), control.ErrBadRequest, "make the namespace and its TAP first"},
		{"unknown subnet", with(func(n *api.Node) { n.Subnet = "nope" }), control.ErrNotFound, `subnet "nope"`},
		{"unknown field", map[string]any{"name": "fw-4", "colour": "red"}, control.ErrBadRequest, "colour"},
	} {
		err := c.Post(ctx, api.PathNodes, c2.body, nil)
		if !errors.Is(err, c2.want) || !strings.Contains(err.Error(), c2.text) {
			t.Errorf("%s: %v, want %v saying %q", c2.name, err, c2.want, c2.text)
		}
	}
	if open := o.stillOpen(); len(open) != 1 || open[0] != "fw-3" {
		t.Fatalf("open ports %v: a refused node's port was left open", open)
	}

	// A node added at run time can be a target; while registered it stays.
	if err := c.Post(ctx, api.TargetPath("fw-3", "register"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, api.NodePath("fw-3"), nil); !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "deregister it first") {
		t.Fatalf("removing a registered target: %v", err)
	}
	if err := c.Post(ctx, api.TargetPath("fw-3", "deregister"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(ctx, api.PathNodes, with(func(*api.Node) {}), nil); err != nil {
		t.Fatal(err)
	}

	// The edits file lists both; the next emulator adds them again, but
	// not one whose namespace is gone.
	saved, err := os.ReadFile(edits)
	if err != nil || !strings.Contains(string(saved), `"fw-3"`) || !strings.Contains(string(saved), `"fw-4"`) {
		t.Fatalf("edits file %s %v", saved, err)
	}
	snap, err := config.Load("testdata/default-lab.json")
	if err != nil {
		t.Fatal(err)
	}
	var o2 pipeOpener
	next, err := New(snap, o2.openPort)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(fw3.NetNS); err != nil {
		t.Fatal(err)
	}
	err = next.KeepEdits(edits)
	if err == nil || !strings.Contains(err.Error(), `node "fw-3"`) {
		t.Fatalf("restoring a node whose namespace is gone: %v", err)
	}
	if got := next.Fabric().AddedNodes(); len(got) != 1 || got[0].ENI.Node != "fw-4" || got[0].ENI.IP != netip.MustParseAddr("10.20.1.14") {
		t.Fatalf("restored nodes %+v", got)
	}
	if _, err := next.Fabric().Link("fw-4"); err != nil {
		t.Fatalf("restored node has no port: %v", err)
	}

	// Removal.
	var removed api.NodeRemoved
	if err := c.Delete(ctx, api.NodePath("fw-3"), &removed); err != nil || removed.Name != "fw-3" {
		t.Fatalf("remove: %+v %v", removed, err)
	}
	if err := c.Delete(ctx, api.NodePath("fw-3"), nil); !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("removing it again: %v", err)
	}
	if err := c.Delete(ctx, api.NodePath("web"), nil); !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "only nodes added at run time") {
		t.Fatalf("removing a node of the configuration: %v", err)
	}
	if open := o.stillOpen(); len(open) != 1 || open[0] != "fw-4" {
		t.Fatalf("open ports %v after fw-3 left, want fw-4's", open)
	}
	if err := c.Get(ctx, api.PathStatus, &st); err != nil || len(st.Ports) != 6 {
		t.Fatalf("status ports after removal %+v %v", st.Ports, err)
	}
	saved, _ = os.ReadFile(edits)
	if strings.Contains(string(saved), `"fw-3"`) {
		t.Fatalf("removed node still kept: %s", saved)
	}
}
