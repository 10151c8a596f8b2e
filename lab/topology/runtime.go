package topology

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// Nodes added to a running lab (`gwlb-lab node add`). Their body (what runs
// in them) is written as one instance of the topology file, and checked and
// resolved by the same rules; their names, ids and MACs are derived as the
// file's instances' are.

// nodeFileKind names a node file in the decoder's messages.
const nodeFileKind = "node"

// ParseNode reads one node body from a node file: an instance as the
// topology file writes it (subnet, private_ip, ipv6_address,
// source_dest_check, run, container), decoded strictly with line numbers,
// then checked by the topology's rules for run and container sections.
// Its errors name the file and the lines.
func ParseNode(ctx context.Context, data []byte, name string) (*InstanceSpec, error) {
	var spec InstanceSpec
	lines, err := DecodeStrict(ctx, data, nodeFileKind, &spec)
	if ds, ok := err.(Diagnostics); ok {
		return nil, errors.New(ds.Format("node file " + name))
	}
	if err != nil {
		return nil, fmt.Errorf("node file %s: %w", name, err)
	}
	if ds := CheckNode(name, &spec, lines); len(ds) > 0 {
		return nil, errors.New(ds.Format("node file " + name))
	}
	return &spec, nil
}

// CheckNode checks a node body by the rules the topology file's instances
// follow (run and container sections; addresses are the lab's to check).
// lines may be nil.
func CheckNode(file string, spec *InstanceSpec, lines Lines) Diagnostics {
	if lines == nil {
		lines = Lines{}
	}
	c := newChecker(&File{Name: file, lines: lines})
	if spec.Run != nil {
		c.checkRun("run", spec.Run)
	}
	c.checkContainer("container", spec.Container)
	c.checkTunnelContainer("", spec.Run, spec.Container)
	if spec.PrivateIP != "" {
		if _, err := netip.ParseAddr(spec.PrivateIP); err != nil {
			c.errorf("", "private_ip", "private_ip %q is not an IPv4 address", spec.PrivateIP)
		}
	}
	if spec.IPv6Address != "" {
		if _, err := netip.ParseAddr(spec.IPv6Address); err != nil {
			c.errorf("", "ipv6_address", "ipv6_address %q is not an IPv6 address", spec.IPv6Address)
		}
	}
	if spec.PublicIP != "" {
		c.errorf("", "public_ip", "public_ip: a node added at run time has no elastic IP (the internet gateway's mappings are the topology file's)")
	}
	sortDiagnostics(c.diags)
	return c.diags.Errors()
}

// ResolveBody returns what a node body runs, with the topology file's
// defaults; file is the node file's name (run.files are relative to it).
func ResolveBody(spec *InstanceSpec, file string) (*Run, *Container) {
	return resolveRun(spec.Run, file), resolveContainer(spec.Container)
}

// ValidateNodeName checks the syntax of a node name, as the topology file's.
func ValidateNodeName(name string) error {
	if !nameRE.MatchString(name) || isReserved(name) {
		return fmt.Errorf("node name %q is not valid: %s", name, nameRule)
	}
	return nil
}

// InstanceID is the instance id (i-<17 hex>) of a node named name in lab,
// as the topology file's instances get.
func InstanceID(lab, name string) string {
	id, _ := awsID("i", lab, "instance", name)
	return id
}

// NodeMAC is the MAC of the ENI of a node named name in lab; attempt > 0
// rehashes it, for the rare MAC another object has.
func NodeMAC(lab, name string, attempt int) MAC {
	if attempt > 0 {
		name += "#" + strconv.Itoa(attempt)
	}
	return macFor(lab, "eni", name)
}

// Reserved reports whether a is one of the five addresses AWS reserves in
// an IPv4 subnet (network, router, DNS, future use, broadcast).
func Reserved(subnet netip.Prefix, a netip.Addr) bool { return reserved(subnet.Masked(), a) }

// HostNumber6 is the IPv6 address of the dualstack subnet's ipv6 prefix
// whose host number is that of a in the IPv4 subnet: what the topology
// file gives an instance that names no ipv6_address.
func HostNumber6(prefix6, subnet netip.Prefix, a netip.Addr) netip.Addr {
	return hostNumber6(prefix6, subnet, a)
}
