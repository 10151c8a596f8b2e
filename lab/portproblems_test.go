package lab

import (
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestPortThatStoppedReadingDegradesTheLab(t *testing.T) {
	if got := portProblems("x", nil); got != nil {
		t.Fatalf("problems without counters: %q", got)
	}
	got := portProblems("x", &api.Counters{Ports: []api.PortCounters{
		{Node: "client"},
		{Node: "fw-1", WriteErrors: 3, WriteError: "input/output error"},
		{Node: "web", ReadError: "file descriptor in bad state"},
	}})
	if len(got) != 1 || !strings.Contains(got[0], "node web's port (file descriptor in bad state)") ||
		!strings.Contains(got[0], "emulator restart --name x") {
		t.Fatalf("problems %q, want one naming web's port and the way out", got)
	}
}
