package wire

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	cnins "github.com/containernetworking/plugins/pkg/ns"
)

// sysctl is one /proc/sys/net setting. optional settings may be missing
// (a kernel without IPv6) without that being an error.
type sysctl struct {
	key      string // relative to /proc/sys, with '/' separators
	value    string
	optional bool
}

// portSysctls quiets IPv6 on the port: no DAD (addresses are usable at once
// and the emulator sees no solicitations for them), no router solicitations
// (the VPC router does not send router advertisements). An IPv4-only port
// gets IPv6 disabled, which also silences MLD and link-local traffic.
func portSysctls(nsPath string, spec PortSpec) error {
	conf := "net/ipv6/conf/" + spec.Name + "/"
	disable := "1"
	if spec.IPv6.IsValid() {
		disable = "0"
	}
	v6opt := !spec.IPv6.IsValid()
	return writeSysctls(nsPath, []sysctl{
		{key: conf + "accept_dad", value: "0", optional: v6opt},
		{key: conf + "dad_transmits", value: "0", optional: v6opt},
		{key: conf + "router_solicitations", value: "0", optional: v6opt},
		{key: conf + "disable_ipv6", value: disable, optional: v6opt},
	})
}

// SetForwarding turns IPv4 and IPv6 forwarding on or off in the namespace at
// nsPath. Call it for every node: a new namespace inherits the host's IPv4
// forwarding setting, not the kernel default (off).
func SetForwarding(nsPath string, v4, v6 bool) error {
	return writeSysctls(nsPath, []sysctl{
		{key: "net/ipv4/ip_forward", value: boolValue(v4)},
		// Without IPv6 in the kernel there is nothing to forward, so
		// "off" is already true; "on" is an error.
		{key: "net/ipv6/conf/all/forwarding", value: boolValue(v6), optional: !v6},
	})
}

// Forwarding reports the namespace's IPv4 and IPv6 forwarding settings.
func Forwarding(nsPath string) (v4, v6 bool, err error) {
	vals, err := readSysctls(nsPath, []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"})
	if err != nil {
		return false, false, err
	}
	return vals[0] == "1", vals[1] == "1", nil
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// writeSysctls writes the settings from a thread inside the namespace:
// /proc/sys/net resolves to the network namespace of the thread that opens
// the file, whatever mount namespace /proc belongs to.
func writeSysctls(nsPath string, list []sysctl) error {
	err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		for _, s := range list {
			p := filepath.Join("/proc/sys", s.key)
			err := os.WriteFile(p, []byte(s.value), 0o644)
			if errors.Is(err, syscall.EROFS) {
				return fmt.Errorf("set %q to %q: %w (/proc/sys is mounted read-only, as in a container: "+
					"remount it read-write with `mount -o remount,rw /proc/sys`, which needs CAP_SYS_ADMIN; "+
					"the gwlb-lab-box image's entrypoint does it)", strings.ReplaceAll(s.key, "/", "."), s.value, err)
			}
			if err != nil && !(s.optional && errors.Is(err, os.ErrNotExist)) {
				return fmt.Errorf("set %q to %q: %w", strings.ReplaceAll(s.key, "/", "."), s.value, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sysctls in %q: %w", nsPath, err)
	}
	return nil
}

// readSysctls reads keys from inside the namespace; a missing key reads as "".
func readSysctls(nsPath string, keys []string) ([]string, error) {
	out := make([]string, len(keys))
	err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		for i, k := range keys {
			b, err := os.ReadFile(filepath.Join("/proc/sys", k))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read %q: %w", strings.ReplaceAll(k, "/", "."), err)
			}
			out[i] = strings.TrimSpace(string(b))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sysctls in %q: %w", nsPath, err)
	}
	return out, nil
}

// SetSysctls writes network sysctls, by dotted name ("net.ipv4.ip_forward"),
// in the namespace at nsPath, in name order. The names must be net.*: the
// settings that belong to a network namespace (the topology checks it).
func SetSysctls(nsPath string, kv map[string]string) error {
	list := make([]sysctl, 0, len(kv))
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		if !strings.HasPrefix(k, "net.") || strings.Contains(k, "/") || strings.Contains(k, "..") {
			return fmt.Errorf("sysctl %q: only net.* names are set in a node", k)
		}
		list = append(list, sysctl{key: strings.ReplaceAll(k, ".", "/"), value: kv[k]})
	}
	return writeSysctls(nsPath, list)
}
