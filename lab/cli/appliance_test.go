package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// TestApplianceTunnelMode: the config file's mode and hook reach the
// appliance, and a hook outside tunnel mode is refused.
func TestApplianceTunnelMode(t *testing.T) {
	cmd := newApplianceCmd(Env{})
	if err := cmd.Flags().Parse(nil); err != nil {
		t.Fatal(err)
	}
	var spec topology.Appliance
	mergeAppliance(cmd, &spec, topology.Appliance{Mode: topology.ApplianceTunnel, Hook: "sh create-route.sh", HealthPort: 80})
	cfg, err := applianceConfig(spec, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Tunnel || cfg.Hook != "sh create-route.sh" || cfg.HealthAddr != ":80" {
		t.Fatalf("tunnel %v, hook %q, health %q", cfg.Tunnel, cfg.Hook, cfg.HealthAddr)
	}
	_, err = applianceConfig(topology.Appliance{Mode: topology.ApplianceForward, Hook: "sh x.sh"}, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "needs mode tunnel") {
		t.Fatalf("hook in forward mode: %v", err)
	}
	if cfg, err := applianceConfig(topology.Appliance{Mode: topology.ApplianceForward}, time.Hour); err != nil || cfg.Tunnel {
		t.Fatalf("forward mode: tunnel %v, %v", cfg.Tunnel, err)
	}
}
