package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
	"github.com/gwlb-lab/gwlb-lab/lab/cgroup"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// Nodes added to a running lab (`gwlb-lab node add|remove`). A node added
// at run time is made exactly as `up` makes an instance of the topology
// file (createNode, programOf, startProgram or startContainer), and is kept
// in the state file, not in resolved.json: the file the lab came from
// stays what it was.
//
// Order of an add, each step recorded before the next, so that `down` (or
// `node remove`) removes whatever a crash at any point left:
//
//  1. under the state root's lock (namespace claims across labs) and the
//     lab's lock: the name is checked unique, the address and MAC chosen,
//     and the node recorded (phase creating) with its namespace and backend;
//  2. the namespace (or holder container) is made and wired (TAP eth0,
//     addresses, default route, sysctls);
//  3. the emulator is told (POST /v1/nodes), which opens the TAP;
//  4. the program starts under the start handshake, released once its PID
//     is recorded; then the lab waits for it to listen, as up does;
//  5. the record turns up.
//
// A remove asks the emulator first (DELETE /v1/nodes/NAME: it refuses a
// node that is still a registered target or a route's target, and then
// nothing is touched), then stops the node's processes, removes its
// container and namespace, its files, and last its records.

// NodeSpec says what node to add to a running lab.
type NodeSpec struct {
	// Name is the node's name: the syntax of the topology file's names,
	// unique among the lab's nodes.
	Name string
	// VPC may be left out when one VPC alone has a subnet named Subnet.
	VPC    string
	Subnet string
	// IP is the node's private IPv4 address; empty: the lowest free address
	// of the subnet (not one of the five AWS reserves, spec §1, nor one any
	// object of the lab uses).
	IP string
	// IPv6 is the node's IPv6 address in a dualstack subnet: empty for
	// none (unless the body names one), IPv6Auto for the subnet's IPv6
	// prefix plus the IPv4 address's host number (the topology file's
	// default), or an address.
	IPv6 string
	// The body, what runs in the node: exactly one of Like (copy an
	// existing node's: run section, container, source/destination check)
	// and Body (one instance as the topology file writes it; BodyFile
	// names its file, for messages and run.files).
	Like     string
	Body     *topology.InstanceSpec
	BodyFile string
	// ASG takes the body from the launch template of the lab's Auto
	// Scaling group of that name (spec §13), instead of Like or Body; the
	// subnet must be one of the group's.
	ASG string
}

// IPv6Auto asks for the topology file's default IPv6 address.
const IPv6Auto = "auto"

// Crash points of node add (Options.CrashAt).
const (
	// CrashNodeRecorded: the node is recorded, nothing made.
	CrashNodeRecorded = "node-recorded"
	// CrashNodeWired: its namespace and TAP exist; the emulator does not
	// know it.
	CrashNodeWired = "node-wired"
	// CrashNodeProgramStarted: its program waits on the handshake,
	// unrecorded.
	CrashNodeProgramStarted = "node-program-started"
)

// ErrTopologyNode is returned by RemoveNode for a node of the topology file.
var ErrTopologyNode = errors.New("is a node of the topology file")

// validate checks what can be checked without the lab.
func (s *NodeSpec) validate() error {
	if err := topology.ValidateNodeName(s.Name); err != nil {
		return err
	}
	if s.Subnet == "" && (s.Body == nil || s.Body.Subnet == "") {
		return fmt.Errorf("node %q: a subnet is required (--subnet)", s.Name)
	}
	sources := 0
	for _, set := range []bool{s.Like != "", s.Body != nil, s.ASG != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		return fmt.Errorf("node %q: give its body once: like an existing node, a node file or an auto scaling group's launch template, not several", s.Name)
	case sources == 0:
		return fmt.Errorf("node %q: say what runs in it: like an existing node (--like NODE), a node file (--file node.yaml) or an auto scaling group's launch template (--asg GROUP)", s.Name)
	}
	if s.Body != nil {
		if ds := topology.CheckNode(s.BodyFile, s.Body, nil); len(ds) > 0 {
			return errors.New(ds.Format("node file " + s.BodyFile))
		}
	}
	if s.IP != "" {
		if a, err := netip.ParseAddr(s.IP); err != nil || !a.Is4() {
			return fmt.Errorf("node %q: ip %q is not an IPv4 address", s.Name, s.IP)
		}
	}
	if s.IPv6 != "" && s.IPv6 != IPv6Auto {
		if a, err := netip.ParseAddr(s.IPv6); err != nil || !a.Is6() || a.Is4In6() {
			return fmt.Errorf("node %q: ipv6 %q is not an IPv6 address (or %q for the subnet's default)", s.Name, s.IPv6, IPv6Auto)
		}
	}
	return nil
}

// ErrNodeBusy is returned when another node add or node remove of the same
// node is running.
var ErrNodeBusy = errors.New("another node add or node remove of it is running")

// lockNode takes the lock that node add holds for its whole run and node
// remove for its own: a remove never takes apart a node that an add is
// still making (its record says creating either way), and two of them
// never work on one node. The kernel drops it when the process dies, so a
// killed add leaves its node removable.
func lockNode(p Paths, node string) (func(), error) {
	path := filepath.Join(p.Dir, "node-"+node+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("node %q: %w; try again once it ends", node, ErrNodeBusy)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// findNode finds a node of the lab: one of the topology file's, or one
// added at run time (any phase).
func findNode(l *topology.Lab, st *State, name string) (*topology.Node, bool) {
	if n, ok := l.Node(name); ok {
		return n, true
	}
	if st != nil {
		if i := st.runtimeNode(name); i >= 0 {
			return &st.RuntimeNodes[i].Node, true
		}
	}
	return nil, false
}

// nodeNames lists every node of the lab, for messages.
func nodeNames(l *topology.Lab, st *State) string {
	var names []string
	for _, n := range l.Nodes {
		names = append(names, n.Name)
	}
	if st != nil {
		for _, rn := range st.RuntimeNodes {
			names = append(names, rn.Node.Name)
		}
	}
	return strings.Join(names, ", ")
}

// objectNames maps the names the topology file makes unique across the
// lab (its objects that route tables and targets name) to their kind.
func objectNames(l *topology.Lab) map[string]string {
	out := map[string]string{}
	for _, v := range l.VPCs {
		out[v.Name] = "vpc"
		if v.InternetGateway != nil {
			out[v.InternetGateway.Name] = "internet gateway"
		}
		for _, n := range v.NATGateways {
			out[n.Name] = "NAT gateway"
		}
		for _, e := range v.Endpoints {
			out[e.Name] = "GWLB endpoint"
		}
	}
	for _, g := range l.GWLBs {
		out[g.Name] = "gwlb"
	}
	for _, s := range l.EndpointServices {
		out[s.Name] = "endpoint service"
	}
	for _, t := range l.TransitGateways {
		out[t.Name] = "transit gateway"
		for _, a := range t.Attachments {
			out[a.Name] = "transit gateway attachment"
		}
		for _, r := range t.RouteTables {
			out[r.Name] = "transit gateway route table"
		}
	}
	return out
}

// findSubnet finds the subnet a node goes to.
func findSubnet(l *topology.Lab, vpc, subnet string) (*topology.VPC, *topology.Subnet, error) {
	var found []string
	var v *topology.VPC
	var s *topology.Subnet
	for i := range l.VPCs {
		if vpc != "" && l.VPCs[i].Name != vpc {
			continue
		}
		if sn, ok := l.VPCs[i].Subnet(subnet); ok {
			v, s = &l.VPCs[i], sn
			found = append(found, l.VPCs[i].Name)
		}
	}
	switch {
	case vpc != "" && !slices.ContainsFunc(l.VPCs, func(x topology.VPC) bool { return x.Name == vpc }):
		var names []string
		for _, x := range l.VPCs {
			names = append(names, x.Name)
		}
		return nil, nil, fmt.Errorf("the lab has no vpc %q (vpcs: %s)", vpc, strings.Join(names, ", "))
	case len(found) == 0:
		var names []string
		for _, x := range l.VPCs {
			if vpc != "" && x.Name != vpc {
				continue
			}
			for _, sn := range x.Subnets {
				names = append(names, x.Name+"/"+sn.Name)
			}
		}
		return nil, nil, fmt.Errorf("the lab has no subnet %q (subnets: %s)", subnet, strings.Join(names, ", "))
	case len(found) > 1:
		return nil, nil, fmt.Errorf("subnet %q is in vpcs %s: name the vpc (--vpc)", subnet, strings.Join(found, ", "))
	}
	return v, s, nil
}

// usedValues collects every IP address and MAC the resolved lab and the
// nodes added at run time name, whatever object names them (nodes, GWLB
// nodes, endpoints, NAT gateways, transit gateway attachments, targets...):
// a walk of their JSON, so an object kind added later is covered too.
func usedValues(l *topology.Lab, st *State) (map[netip.Addr]bool, map[config.MAC]bool, error) {
	addrs, macs := map[netip.Addr]bool{}, map[config.MAC]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			if a, err := netip.ParseAddr(x); err == nil {
				addrs[a] = true
			} else if p, err := netip.ParsePrefix(x); err == nil && p.Addr() != p.Masked().Addr() {
				addrs[p.Addr()] = true // an interface's address/len
			} else if len(x) == 17 && strings.Count(x, ":") == 5 {
				if m, err := config.ParseMAC(x); err == nil {
					macs[m] = true
				}
			}
		}
	}
	for _, obj := range []any{l, st.RuntimeNodes} {
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, nil, err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, nil, err
		}
		walk(v)
	}
	return addrs, macs, nil
}

// allocate returns want if it is free and usable in the subnet, or, when
// want is not set, the lowest such address.
func allocate(cidr netip.Prefix, used map[netip.Addr]bool, want netip.Addr) (netip.Addr, error) {
	cidr = cidr.Masked()
	if want.IsValid() {
		switch {
		case !cidr.Contains(want):
			return netip.Addr{}, fmt.Errorf("address %s is not in the subnet's %s", want, cidr)
		case topology.Reserved(cidr, want):
			return netip.Addr{}, fmt.Errorf("address %s is one of the five AWS reserves in %s (the network, router, DNS, future use and last addresses)", want, cidr)
		case used[want]:
			return netip.Addr{}, fmt.Errorf("address %s is already used in the lab", want)
		}
		return want, nil
	}
	for a := cidr.Addr(); cidr.Contains(a); a = a.Next() {
		if !topology.Reserved(cidr, a) && !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s has no free address", cidr)
}

// runtimeBody builds the node the spec asks for, without its place in the
// lab: kind, id, run section, container, source/destination check.
func runtimeBody(l *topology.Lab, st *State, lab string, spec *NodeSpec) (topology.Node, error) {
	n := topology.Node{Name: spec.Name, Kind: topology.NodeInstance, ID: topology.InstanceID(lab, spec.Name),
		Netns: topology.NetnsName(lab, spec.Name)}
	n.Interface.SourceDestCheck = topology.DefaultSourceDestCheck
	if spec.ASG != "" {
		g, ok := l.AutoScalingGroup(spec.ASG)
		if !ok {
			var names []string
			for _, g := range l.AutoScalingGroups {
				names = append(names, g.Name)
			}
			return n, fmt.Errorf("node %q: --asg %q: the lab has no such auto scaling group (groups: %s)", spec.Name, spec.ASG, cmpOr(strings.Join(names, ", "), "none"))
		}
		if !slices.ContainsFunc(g.Subnets, func(s topology.ASGSubnet) bool { return s.Name == spec.Subnet }) || (spec.VPC != "" && spec.VPC != g.VPC) {
			var names []string
			for _, s := range g.Subnets {
				names = append(names, s.Name)
			}
			return n, fmt.Errorf("node %q: subnet %q is not one of auto scaling group %q's (%s in vpc %s)", spec.Name, spec.Subnet, g.Name, strings.Join(names, ", "), g.VPC)
		}
		var err error
		if n.Run, n.Container, err = copyBody(g.LaunchTemplate.Run, g.LaunchTemplate.Container); err != nil {
			return n, err
		}
		n.Interface.SourceDestCheck = g.LaunchTemplate.SourceDestCheck
		return n, nil
	}
	if spec.Like != "" {
		like, ok := findNode(l, st, spec.Like)
		if !ok {
			return n, fmt.Errorf("node %q: --like %q: the lab has no such node (nodes: %s)", spec.Name, spec.Like, nodeNames(l, st))
		}
		if like.Kind != topology.NodeInstance {
			return n, fmt.Errorf("node %q: --like %q: that is a %s, not an instance", spec.Name, spec.Like, like.Kind)
		}
		var err error
		if n.Run, n.Container, err = copyBody(like.Run, like.Container); err != nil {
			return n, err
		}
		n.Interface.SourceDestCheck = like.Interface.SourceDestCheck
		return n, nil
	}
	n.Run, n.Container = topology.ResolveBody(spec.Body, spec.BodyFile)
	if spec.Body.SourceDestCheck != nil {
		n.Interface.SourceDestCheck = *spec.Body.SourceDestCheck
	}
	return n, nil
}

// copyBody returns a deep copy of a resolved run section and container: the
// JSON of both.
func copyBody(run *topology.Run, ct *topology.Container) (*topology.Run, *topology.Container, error) {
	type body struct {
		Run       *topology.Run       `json:"run"`
		Container *topology.Container `json:"container"`
	}
	b, err := json.Marshal(body{run, ct})
	if err != nil {
		return nil, nil, err
	}
	var out body
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, nil, err
	}
	return out.Run, out.Container, nil
}

// reserve records the node spec asks for in the lab's state file (phase
// creating), with its namespace, after checking its name and choosing its
// addresses and MAC; it returns the node.
func (m *Manager) reserve(ctx context.Context, lab string, p Paths, l *topology.Lab, spec *NodeSpec) (*topology.Node, error) {
	// The state root's lock makes the namespace claim one step with the
	// other labs' (see claims.go); the lab's lock, the record one step
	// with this lab's other commands.
	unlockRoot, err := m.lockRoot()
	if err != nil {
		return nil, err
	}
	defer unlockRoot()
	others := m.otherClaims(lab)
	var node topology.Node
	_, err = updateState(p, func(st *State) error {
		if st.Phase != PhaseUp {
			return fmt.Errorf("lab %q is %s, not up", lab, st.Phase)
		}
		if _, taken := findNode(l, st, spec.Name); taken {
			return fmt.Errorf("node %q: the lab has a node of that name: choose another name", spec.Name)
		}
		if kind, taken := objectNames(l)[spec.Name]; taken {
			return fmt.Errorf("node %q: the lab has a %s of that name (names are unique across the lab, as in the topology file): choose another name", spec.Name, kind)
		}
		n, err := runtimeBody(l, st, lab, spec)
		if err != nil {
			return err
		}
		if owner, ok := others.owner[n.Netns]; ok {
			return fmt.Errorf("node %q: namespace %q belongs to lab %q: %w (choose another node name)", spec.Name, n.Netns, owner, ErrNameTaken)
		}
		if other, ok := others.mayBelongTo(n.Netns, lab); ok {
			return fmt.Errorf("node %q: namespace %q may belong to lab %q: %w (choose another node name)", spec.Name, n.Netns, other, ErrNameTaken)
		}
		if _, err := m.backend.Open(ctx, n.Netns); err == nil {
			return fmt.Errorf("node %q: namespace %q exists already, left from an earlier run (gwlb-lab down --name %s removes it)", spec.Name, n.Netns, lab)
		}
		subnet, vpc := spec.Subnet, spec.VPC
		ip, ip6 := spec.IP, spec.IPv6
		if b := spec.Body; b != nil {
			subnet = cmpOr(subnet, b.Subnet)
			ip, ip6 = cmpOr(ip, b.PrivateIP), cmpOr(ip6, b.IPv6Address)
		}
		v, s, err := findSubnet(l, vpc, subnet)
		if err != nil {
			return fmt.Errorf("node %q: %w", spec.Name, err)
		}
		used, macs, err := usedValues(l, st)
		if err != nil {
			return err
		}
		var want netip.Addr
		if ip != "" {
			if want, err = netip.ParseAddr(ip); err != nil {
				return fmt.Errorf("node %q: ip %q is not an address", spec.Name, ip)
			}
		}
		addr, err := allocate(s.CIDR, used, want)
		if err != nil {
			return fmt.Errorf("node %q: subnet %s/%s: %w", spec.Name, v.Name, s.Name, err)
		}
		n.VPC, n.Subnet, n.AZ = v.Name, s.Name, s.AZ
		n.Interface.Name = topology.InterfaceName
		n.Interface.Addr = netip.PrefixFrom(addr, s.CIDR.Bits())
		n.Interface.Gateway, n.Interface.GatewayMAC = s.Router, s.RouterMAC
		n.Interface.MTU = topology.VPCMTU
		if ip6 != "" {
			if !s.IPv6CIDR.IsValid() {
				return fmt.Errorf("node %q: subnet %s/%s has no ipv6_cidr: an IPv6 address needs a dualstack subnet", spec.Name, v.Name, s.Name)
			}
			a6 := topology.HostNumber6(s.IPv6CIDR, s.CIDR, addr)
			if ip6 != IPv6Auto {
				if a6, err = netip.ParseAddr(ip6); err != nil {
					return fmt.Errorf("node %q: ipv6 %q is not an address", spec.Name, ip6)
				}
			}
			switch {
			case !s.IPv6CIDR.Contains(a6):
				return fmt.Errorf("node %q: ipv6 %s is not in the subnet's %s", spec.Name, a6, s.IPv6CIDR)
			case used[a6] || a6 == s.RouterV6 || a6 == s.IPv6CIDR.Masked().Addr():
				return fmt.Errorf("node %q: ipv6 %s is already used in the lab", spec.Name, a6)
			}
			n.Interface.Addr6, n.Interface.Gateway6 = netip.PrefixFrom(a6, s.IPv6CIDR.Bits()), s.RouterV6
		}
		for i := 0; ; i++ {
			if mac := topology.NodeMAC(lab, spec.Name, i); !macs[mac] {
				n.Interface.MAC = mac
				break
			}
		}
		from := "like:" + spec.Like
		switch {
		case spec.ASG != "":
			from = "asg:" + spec.ASG
		case spec.Like == "":
			from = spec.BodyFile
		}
		st.RuntimeNodes = append(st.RuntimeNodes, RuntimeNode{Node: n, Phase: PhaseCreating, Added: time.Now().UTC(), From: from})
		if !slices.Contains(st.Namespaces, n.Netns) {
			st.Namespaces = append(st.Namespaces, n.Netns)
		}
		if k := backendKind(&n); k != BackendNetns {
			if st.Backends == nil {
				st.Backends = map[string]string{}
			}
			st.Backends[n.Netns] = k
		}
		node = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &node, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// AddNode adds a node to a running lab: see NodeSpec and the order above.
// On failure it removes what it made; what a crash leaves, `node remove`
// and `down` remove.
func (m *Manager) AddNode(ctx context.Context, lab string, spec NodeSpec) (_ *NodeStatus, err error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	p, err := m.Paths(lab)
	if err != nil {
		return nil, err
	}
	l, err := readResolved(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab %q: %w", lab, ErrNoLab)
	}
	if err != nil {
		return nil, fmt.Errorf("lab %q: resolved topology: %w", lab, err)
	}
	unlock, err := lockNode(p, spec.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, err := m.reserve(ctx, lab, p, l, &spec)
	if err != nil {
		return nil, err
	}
	m.crashPoint(CrashNodeRecorded)
	// posted is set once the emulator may have the node: a node of that
	// name it had before (added through its API by someone else) is not
	// ours to delete.
	posted := false
	defer func() {
		if err == nil {
			return
		}
		cctx := context.WithoutCancel(ctx)
		if posted {
			_ = control.NewClient(p.Socket()).Delete(cctx, api.NodePath(n.Name), nil)
		}
		rerr := m.removeRuntime(cctx, lab, p, n.Name)
		if errors.Is(rerr, ErrNoLab) {
			// The lab went down meanwhile, maybe before this node's
			// namespace was made: remove it by name.
			rerr = m.removeOrphan(cctx, n)
		}
		if rerr != nil {
			err = errors.Join(err, fmt.Errorf("clean-up (gwlb-lab node remove %s --name %s finishes it): %w", n.Name, lab, rerr))
		}
	}()
	m.progress("node %s: %s in %s/%s", n.Name, n.Interface.Addr.Addr(), n.VPC, n.Subnet)
	bn, err := m.createNode(ctx, lab, n)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, err)
	}
	m.crashPoint(CrashNodeWired)
	c := control.NewClient(p.Socket())
	in := api.Node{Name: n.Name, VPC: n.VPC, Subnet: n.Subnet, IP: n.Interface.Addr.Addr().String(),
		MAC: n.Interface.MAC.String(), NetNS: bn.NetNSPath(), Interface: n.Interface.Name, MTU: n.Interface.MTU,
		SourceDestCheck: &n.Interface.SourceDestCheck, UDPCoalesce: udpCoalesce(n)}
	if n.Interface.Addr6.IsValid() {
		in.IPv6 = n.Interface.Addr6.Addr().String()
	}
	posted = true
	if err := c.Post(ctx, api.PathNodes, in, nil); err != nil {
		// A refusal added nothing; any other failure may have.
		posted = !errors.Is(err, control.ErrBadRequest)
		return nil, fmt.Errorf("node %q: the emulator did not add it: %w", n.Name, err)
	}
	st, err := readState(p)
	if err != nil {
		return nil, err
	}
	prog, ok, err := m.programOf(l, n, p)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, err)
	}
	switch {
	case n.Container != nil:
		proc, err := m.startContainer(ctx, bn, l, n, prog, ok, p)
		if err != nil {
			if ended := m.containerEnded(ctx, n, bn); ended != nil {
				return nil, ended
			}
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		if err := recordProc(p, st, proc); err != nil {
			return nil, err
		}
	case ok:
		prog.env, prog.dir, prog.restart = nodeEnv(l, n, p), p.NodeWorkDir(n.Name), n.Run.Restart
		proc, h, err := m.startProgram(ctx, bn, n, prog, p, st)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		defer h.close()
		m.crashPoint(CrashNodeProgramStarted)
		if err := recordProc(p, st, proc); err != nil {
			return nil, err
		}
		if err := h.release(); err != nil {
			return nil, err
		}
	}
	if err := m.waitListening(ctx, n, bn.NetNSPath(), p); err != nil {
		return nil, err
	}
	if n.Container != nil {
		if err := m.checkContainers(ctx, &topology.Lab{Nodes: []topology.Node{*n}}, []backend.Node{bn}, []time.Time{time.Now()}); err != nil {
			return nil, err
		}
	}
	st, err = updateState(p, func(s *State) error {
		i := s.runtimeNode(n.Name)
		if i < 0 {
			return fmt.Errorf("node %q: its record is gone (removed meanwhile?)", n.Name)
		}
		s.RuntimeNodes[i].Phase = PhaseUp
		return nil
	})
	if err != nil {
		return nil, err
	}
	ns := m.nodeStatus(ctx, p, st, n)
	return &ns, nil
}

// RemoveNode removes a node added at run time: the emulator's port first
// (refused, and nothing touched, while the node is a registered target or a
// route's target), then its processes, container, namespace, files and
// records. A half-made node (a crash of node add) is removed the same way.
func (m *Manager) RemoveNode(ctx context.Context, lab, node string) error {
	p, err := m.Paths(lab)
	if err != nil {
		return err
	}
	l, err := readResolved(p)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lab %q: %w", lab, ErrNoLab)
	}
	if err != nil {
		return fmt.Errorf("lab %q: resolved topology: %w", lab, err)
	}
	if _, ok := l.Node(node); ok {
		return fmt.Errorf("node %q %w: only nodes added at run time are removed (node stop stops its program; down removes the lab)", node, ErrTopologyNode)
	}
	st, err := readState(p)
	if err != nil {
		return fmt.Errorf("lab %q: %w", lab, err)
	}
	if st.runtimeNode(node) < 0 {
		var names []string
		for _, rn := range st.RuntimeNodes {
			names = append(names, rn.Node.Name)
		}
		list := "none"
		if len(names) > 0 {
			list = strings.Join(names, ", ")
		}
		return fmt.Errorf("lab %q has no node %q added at run time (added at run time: %s)", lab, node, list)
	}
	unlock, err := lockNode(p, node)
	if err != nil {
		return err
	}
	defer unlock()
	c := control.NewClient(p.Socket())
	switch err := c.Delete(ctx, api.NodePath(node), nil); {
	case err == nil, errors.Is(err, control.ErrNotFound): // not added yet, or removed before a crash
	case errors.Is(err, control.ErrBadRequest):
		return err // the emulator's refusal names the node and what to do
	default:
		return fmt.Errorf("node %q: %w (is the emulator running? gwlb-lab status --name %s)", node, err, lab)
	}
	return m.removeRuntime(ctx, lab, p, node)
}

// removeRuntime removes what node add made of a node once the emulator has
// let go of it (or never had it): processes, container, namespace, files,
// then its records.
func (m *Manager) removeRuntime(ctx context.Context, lab string, p Paths, node string) error {
	st, err := readState(p)
	if err != nil {
		return err
	}
	i := st.runtimeNode(node)
	if i < 0 {
		return nil
	}
	n := st.RuntimeNodes[i].Node
	var errs []error
	if st.Backends[n.Netns] == BackendDocker {
		b, err := m.dockerBackend(ctx)
		if err != nil {
			return fmt.Errorf("node %q is a container node: %w", node, err)
		}
		if err := b.Remove(ctx, n.Netns); err != nil {
			errs = append(errs, err)
		}
	} else {
		_ = m.freeze(&n, p, st, false) // a frozen program cannot act on SIGTERM
		for _, pr := range st.Processes {
			if pr.Node == node && pr.Role == RoleProgram {
				if err := netns.Stop(pr.PID, pr.StartTime, stopGrace); err != nil {
					errs = append(errs, fmt.Errorf("stop its program (pid %d): %w", pr.PID, err))
				}
			}
		}
	}
	path := filepath.Join(m.opts.NetnsDir, n.Netns)
	// Whatever else runs in its namespace or its cgroup: a program that
	// was never recorded (a crash between start and record), or what it
	// left behind.
	if _, err := os.Stat(path); err == nil {
		nss, err := netns.Identify([]string{path})
		if err != nil {
			errs = append(errs, err)
		} else if err := nss.Stop(stopGrace); err != nil {
			errs = append(errs, err)
		}
	}
	if st.Cgroup != "" {
		dir := filepath.Join(st.Cgroup, nodeCgroup(node))
		if cgroup.Exists(dir) {
			if err := cgroup.Kill(dir, stopGrace); err != nil {
				errs = append(errs, err)
			}
			if err := cgroup.Remove(dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		if err := m.backend.Remove(ctx, n.Netns); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("node %q: %w", node, errors.Join(errs...))
	}
	logs := filepath.Dir(p.NodeLog(node))
	for _, f := range []string{filepath.Join(p.Dir, "node-"+node+".lock"), p.NodeWorkDir(node), p.NodeLogDir(node), p.NodeLog(node), p.ExitFile(node), p.LifeFile(node),
		filepath.Join(logs, node+".appliance.json"), filepath.Join(logs, node+".stats.json"), p.FlowLog(node), p.FlowLog(node) + ".1"} {
		_ = os.RemoveAll(f)
	}
	_, err = updateState(p, func(s *State) error {
		if i := s.runtimeNode(node); i >= 0 {
			s.RuntimeNodes = slices.Delete(s.RuntimeNodes, i, i+1)
		}
		s.Namespaces = slices.DeleteFunc(s.Namespaces, func(ns string) bool { return ns == n.Netns })
		delete(s.Backends, n.Netns)
		s.Processes = slices.DeleteFunc(s.Processes, func(pr Proc) bool { return pr.Node == node })
		return nil
	})
	return err
}

// removeOrphan removes a node's namespace (and what runs in it, and its
// container) when its lab's records are gone.
func (m *Manager) removeOrphan(ctx context.Context, n *topology.Node) error {
	var errs []error
	if n.Container != nil {
		if b, err := m.dockerBackend(ctx); err == nil {
			errs = append(errs, b.Remove(ctx, n.Netns))
		}
	}
	path := filepath.Join(m.opts.NetnsDir, n.Netns)
	if _, err := os.Stat(path); err == nil {
		nss, err := netns.Identify([]string{path})
		if err == nil {
			err = nss.Stop(stopGrace)
		}
		errs = append(errs, err)
	}
	errs = append(errs, m.backend.Remove(ctx, n.Netns))
	return errors.Join(errs...)
}

// Node returns a node of a running lab: one of the topology file's, or one
// added at run time (Runtime reports which).
func (m *Manager) Node(lab, name string) (*topology.Node, bool, error) {
	l, err := m.Resolved(lab)
	if err != nil {
		return nil, false, err
	}
	p, err := m.Paths(lab)
	if err != nil {
		return nil, false, err
	}
	st, _ := readState(p) // nil: the topology file's nodes alone
	n, ok := findNode(l, st, name)
	return n, ok, nil
}
