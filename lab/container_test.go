package lab

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

func TestBackendKind(t *testing.T) {
	if k := backendKind(&topology.Node{}); k != BackendNetns {
		t.Errorf("a node without a container section: %q", k)
	}
	if k := backendKind(&topology.Node{Container: &topology.Container{Image: "x"}}); k != BackendDocker {
		t.Errorf("a node with a container section: %q", k)
	}
}

func TestContainerSpec(t *testing.T) {
	if containerSpec(nil) != nil {
		t.Error("a namespace node got container settings")
	}
	got := containerSpec(&topology.Container{
		Image: "img", Command: []string{"a"}, Env: map[string]string{"B": "2", "A": "1"},
		CapAdd: []string{"NET_ADMIN"}, Devices: []string{"/dev/net/tun"}, Volumes: []string{"/x:/y"},
		WorkingDir: "/w", User: "1:1",
	})
	want := &backend.Container{
		Image: "img", Command: []string{"a"}, Env: []string{"A=1", "B=2"}, // sorted: stable container config
		CapAdd: []string{"NET_ADMIN"}, Devices: []string{"/dev/net/tun"}, Volumes: []string{"/x:/y"},
		WorkingDir: "/w", User: "1:1",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("containerSpec (-want +got):\n%s", d)
	}
}

func TestContainerEnv(t *testing.T) {
	l := resolveDefault(t)
	n, ok := l.Node("fw-1")
	if !ok {
		t.Fatal("no fw-1 in the default lab")
	}
	p := Paths{Dir: "/run/gwlb-lab/unit"}
	got := map[string]string{}
	for _, kv := range containerEnv(l, n, p) {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	// The identity an appliance image needs, the GWLB nodes above all.
	for k, want := range map[string]string{
		"GWLB_LAB": "unit", "GWLB_NODE": "fw-1", "GWLB_IFACE": "eth0",
		"GWLB_ADDR": n.Interface.Addr.Addr().String(), "GWLB_GATEWAY": n.Interface.Gateway.String(),
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if got["GWLB_NODES"] == "" {
		t.Error("GWLB_NODES is empty for a target")
	}
	// The host's directories are not in the container.
	for _, k := range []string{"GWLB_WORKDIR", "GWLB_LOGDIR"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s given to a container", k)
		}
	}
	if len(got) != len(nodeEnv(l, n, p))-2 {
		t.Errorf("containerEnv %v: want nodeEnv less two", got)
	}
}
