package topology

import (
	"context"
	"strings"
	"testing"
)

func TestParseNode(t *testing.T) {
	spec, err := ParseNode(context.Background(), []byte("subnet: appliances\nrun:\n  appliance: {mode: firewall, default_action: deny}\n"), "fw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run, ct := ResolveBody(spec, "fw.yaml")
	if ct != nil || run == nil || run.Kind != RunAppliance || run.Appliance.DefaultAction != "deny" || run.Appliance.HealthPort != DefaultHealthPort {
		t.Fatalf("resolved body: %+v %+v", run, ct)
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown field", "subnet: a\nrun:\n  appliance: {mdoe: forward}\n", "line 3"},
		{"two programs", "run:\n  command: [sleep, '9']\n  http_echo: {}\n", "line 1"},
		{"bad address", "subnet: a\nprivate_ip: 10.0.0\nrun: {command: [x]}\n", "line 2"},
		{"public ip", "subnet: a\npublic_ip: 203.0.113.9\nrun: {command: [x]}\n", "no elastic IP"},
		{"container without image", "container: {command: [x]}\n", "image is required"},
		{"empty", "", "empty"},
	} {
		_, err := ParseNode(context.Background(), []byte(c.yaml), "n.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "node file n.yaml") {
			t.Errorf("%s: err %v, want one naming n.yaml and saying %q", c.name, err, c.want)
		}
	}
}

func TestRuntimeNames(t *testing.T) {
	if err := ValidateNodeName("fw-3"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "Fw", "-a", "a-", "blackhole", strings.Repeat("a", 33)} {
		if ValidateNodeName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if NodeMAC("l", "a", 0) == NodeMAC("l", "a", 1) {
		t.Error("a rehashed MAC equals the first")
	}
	if m := NodeMAC("l", "a", 0); m[0]&1 != 0 || m[0]&2 == 0 {
		t.Errorf("MAC %s is not unicast and locally administered", m)
	}
	if InstanceID("l", "a") == InstanceID("l", "b") {
		t.Error("two nodes share an instance id")
	}
}
