package topology_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

func TestContainerSection(t *testing.T) {
	data, err := scenarios.FS.ReadFile("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), "run: {appliance: {mode: forward, health_port: 80}}",
		`run: {appliance: {mode: forward, health_port: 80}}
        container:
          image: "vendor/fw:1"
          entrypoint: [/bin/fw]
          command: [--fast]
          env: {MODE: ips}
          cap_add: [NET_ADMIN]
          devices: [/dev/net/tun]
          volumes: ["/etc/fw:/etc/fw:ro"]
          working_dir: /var/lib/fw
          user: "100:100"
          sysctls: {net.ipv4.ip_forward: "1"}`, 1)
	src = strings.Replace(src, "ip: 198.51.100.10\n", "ip: 198.51.100.10\n      container: {image: client:1}\n", 1)
	l := resolveBytes(t, []byte(src), "ct")
	fw, _ := l.Node("fw-1")
	want := &topology.Container{
		Image: "vendor/fw:1", Entrypoint: []string{"/bin/fw"}, Command: []string{"--fast"},
		Env: map[string]string{"MODE": "ips"}, CapAdd: []string{"NET_ADMIN"}, Devices: []string{"/dev/net/tun"},
		Volumes: []string{"/etc/fw:/etc/fw:ro"}, WorkingDir: "/var/lib/fw", User: "100:100",
		Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
	}
	if d := cmp.Diff(want, fw.Container); d != "" {
		t.Errorf("fw-1 container (-want +got):\n%s", d)
	}
	if fw2, _ := l.Node("fw-2"); fw2.Container != nil {
		t.Errorf("fw-2 has no container section but got %+v", fw2.Container)
	}
	if c, _ := l.Node("client"); c.Container == nil || c.Container.Image != "client:1" {
		t.Errorf("internet host client: container %+v", c.Container)
	}
}

func TestContainerNeedsImage(t *testing.T) {
	data, err := scenarios.FS.ReadFile("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), "run: {appliance: {mode: forward, health_port: 80}}",
		"run: {appliance: {mode: forward, health_port: 80}}\n        container: {cap_add: [NET_ADMIN]}", 1)
	f, err := topology.Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := topology.Validate(f)
	if !d.HasErrors() || !strings.Contains(d.Error(), "vpcs.security.instances.fw-1.container") || !strings.Contains(d.Error(), "image is required") {
		t.Errorf("a container section without image: %v", d)
	}
}

func TestContainerSysctlsOnlyNetwork(t *testing.T) {
	data, err := scenarios.FS.ReadFile("default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sysctls, want string }{
		{`{kernel.panic: "1"}`, `container.sysctls["kernel.panic"]: sysctls: "kernel.panic" is not a network sysctl`},
		{`{net.ipv4..x: "1"}`, `is not a network sysctl`},
		{`{net/ipv4/ip_forward: "1"}`, `is not a network sysctl`},
		{`{net.ipv4.ip_forward: ""}`, `sysctls: "net.ipv4.ip_forward" needs a value on one line`},
	} {
		src := strings.Replace(string(data), "run: {appliance: {mode: forward, health_port: 80}}",
			"run: {appliance: {mode: forward, health_port: 80}}\n        container: {image: x, sysctls: "+tc.sysctls+"}", 1)
		f, err := topology.Parse([]byte(src), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if d := topology.Validate(f); !strings.Contains(d.Error(), tc.want) {
			t.Errorf("sysctls %s: got %v, want %q", tc.sysctls, d, tc.want)
		}
	}
}
