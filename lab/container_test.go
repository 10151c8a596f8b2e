package lab

import (
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
