package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

func TestCheckFindsMissingPrograms(t *testing.T) {
	lab := func(argv ...string) *topology.Lab {
		return &topology.Lab{Nodes: []topology.Node{
			{Name: "web", Run: &topology.Run{Kind: topology.RunHTTPEcho}},
			{Name: "fw-1", Run: &topology.Run{Kind: topology.RunCommand, Command: argv}},
		}}
	}
	var ml ManagerLauncher
	err := ml.Check(lab("gwlb-lab-no-such-program", "-c", "x"))
	if !errors.Is(err, ErrNotInstalled) || !Unsupported(err) || !strings.Contains(err.Error(), "fw-1 runs gwlb-lab-no-such-program") {
		t.Errorf("missing program: %v", err)
	}
	if err := ml.Check(lab("sh", "-c", "true")); err != nil {
		t.Errorf("sh is on PATH: %v", err)
	}
	// A path is the node's own business (run.files place it).
	if err := ml.Check(lab("./hook.sh")); err != nil {
		t.Errorf("relative path: %v", err)
	}
}
