package cli

import (
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestDescribeLink(t *testing.T) {
	for _, c := range []struct {
		s    api.LinkSettings
		want string
	}{
		{api.LinkSettings{}, "no impairment"},
		{api.LinkSettings{Down: true}, "down"},
		{api.LinkSettings{LossPercent: 12.5}, "loss 12.5%"},
		{api.LinkSettings{Down: true, LossPercent: 1, Delay: "40ms", Jitter: "5ms"}, "down, loss 1%, delay 40ms ± 5ms"},
	} {
		if got := describeLink(c.s); got != c.want {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
}

func TestStatusNamesImpairedLinks(t *testing.T) {
	var b strings.Builder
	printImpairedLinks(&b, []api.PortCounters{{Node: "client"}, {Node: "web", Link: &api.PortLink{LossPercent: 20}}, {Node: "fw-1", Link: &api.PortLink{Down: true}}})
	if got, want := b.String(), "impaired links: web (loss 20%), fw-1 (down)\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	b.Reset()
	printImpairedLinks(&b, []api.PortCounters{{Node: "client"}})
	if b.Len() != 0 {
		t.Fatalf("printed %q for no impaired link", b.String())
	}
}

func TestLinkSetNeedsSomethingToSet(t *testing.T) {
	var out, errb strings.Builder
	code := Main(t.Context(), Env{Args: []string{"link", "set", "web"}, Stdout: &out, Stderr: &errb, StateRoot: t.TempDir(), NetnsDir: t.TempDir()})
	if code != 1 || !strings.Contains(errb.String(), "nothing to set") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	code = Main(t.Context(), Env{Args: []string{"link", "set", "web", "--down", "--up"}, Stdout: &out, Stderr: &errb, StateRoot: t.TempDir(), NetnsDir: t.TempDir()})
	if code != 1 || !strings.Contains(errb.String(), "contradict") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	code = Main(t.Context(), Env{Args: []string{"route", "add", "0.0.0.0/0", "igw"}, Stdout: &out, Stderr: &errb, StateRoot: t.TempDir(), NetnsDir: t.TempDir()})
	if code != 1 || !strings.Contains(errb.String(), "--table is required") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
