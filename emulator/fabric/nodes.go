package fabric

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// Nodes added and removed at run time. A node is one ENI in a VPC subnet
// with its port. Adding one copies the snapshot with the ENI in its subnet
// (everything else shared), checks it, compiles it against the running
// runtime with the new port, and swaps the port map and the compiled lab in
// with one atomic store each, as route edits do; only then does a reader
// start on the port. Removing one swaps in a configuration without it,
// closes its port, waits for its reader to return and forgets the GWLB
// flows and NAT connections of its addresses. Other ports' readers, flows
// and NAT connections are untouched, and the data path takes no lock.

// AddedNode is a node added at run time.
type AddedNode struct {
	// VPC names the subnet's VPC; it may be empty when only one VPC has a
	// subnet of that name.
	VPC    string
	Subnet string
	// ENI is the node's interface. Node, NetNS, Interface, MAC and IP are
	// required; MTU 0 takes the port's. IPv6 is optional (the subnet must
	// have an IPv6 CIDR); a public IP is not supported.
	ENI config.ENI
}

// nodeNameRE is the topology file's rule for names.
var nodeNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// AddNode adds a node to the running lab. The fabric owns p from then on,
// also when AddNode fails (it closes it). Refusals are ErrInvalid or
// ErrNotFound (no such VPC or subnet), with a message that says why, and
// change nothing.
func (f *Fabric) AddNode(n AddedNode, p Port) error {
	if p == nil {
		return fmt.Errorf("%w: node %q has no port", ErrInvalid, n.ENI.Node)
	}
	if err := f.addNode(n, p); err != nil {
		_ = p.Close()
		return err
	}
	return nil
}

func (f *Fabric) addNode(n AddedNode, p Port) error {
	f.edits.Lock()
	defer f.edits.Unlock()
	cur := f.lab.Load().snap
	e := n.ENI
	if e.MTU == 0 {
		e.MTU = p.MTU()
	}
	vi, si, err := findSubnet(cur, n.VPC, n.Subnet)
	if err != nil {
		return err
	}
	if err := checkNewENI(cur, f.lab.Load(), vi, si, e); err != nil {
		return err
	}
	next := withENIs(cur, vi, si, append(slices.Clone(cur.VPCs[vi].Subnets[si].ENIs), e))
	if err := next.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	ps := &portState{node: e.Node, p: p}
	ports := maps.Clone(f.portMap())
	ports[e.Node] = ps
	l, err := compile(next, f.rt, ports)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	f.run.mu.Lock()
	defer f.run.mu.Unlock()
	if f.run.stopped {
		return fmt.Errorf("%w: the emulator is stopping", ErrInvalid)
	}
	f.ports.Store(&ports)
	f.lab.Store(l)
	if f.run.running {
		f.startReader(ps)
	}
	n.ENI = e
	n.VPC, n.Subnet = cur.VPCs[vi].Name, cur.VPCs[vi].Subnets[si].Name
	f.added = append(f.added, n)
	return nil
}

// RemoveNode removes a node added at run time: the configuration forgets
// it, its port is closed once its reader has stopped, and the GWLB flows
// and NAT connections with its addresses at either end are dropped.
// Nodes of the lab's own configuration are not removed (ErrInvalid), nor
// is a node a route still targets.
func (f *Fabric) RemoveNode(name string) error {
	f.edits.Lock()
	defer f.edits.Unlock()
	ai := slices.IndexFunc(f.added, func(a AddedNode) bool { return a.ENI.Node == name })
	cur := f.lab.Load().snap
	if ai < 0 {
		if slices.ContainsFunc(cur.AllENIs(), func(e config.ENI) bool { return e.Node == name }) {
			return fmt.Errorf("%w: node %q is part of the lab's configuration: only nodes added at run time can be removed", ErrInvalid, name)
		}
		return fmt.Errorf("node %q: %w", name, ErrNotFound)
	}
	a := f.added[ai]
	vi, si, err := findSubnet(cur, a.VPC, a.Subnet)
	if err != nil {
		return err
	}
	v := cur.VPCs[vi]
	for _, rt := range v.RouteTables {
		for _, r := range rt.Routes {
			if r.Kind == config.TargetInstance && r.Target == name {
				return fmt.Errorf("%w: route table %q of vpc %q routes %s to node %q: delete or replace that route first", ErrInvalid, rt.Name, v.Name, r.Destination, name)
			}
		}
	}
	enis := slices.DeleteFunc(slices.Clone(v.Subnets[si].ENIs), func(e config.ENI) bool { return e.Node == name })
	next := withENIs(cur, vi, si, enis)
	if err := next.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	ps := f.port(name)
	ports := maps.Clone(f.portMap())
	delete(ports, name)
	l, err := compile(next, f.rt, ports)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	f.lab.Store(l)
	f.ports.Store(&ports)
	f.added = slices.Delete(f.added, ai, ai+1)
	if ps != nil {
		// A frame already on its way may still be written to the closed
		// port: it is dropped quietly (Fabric.write).
		ps.removed.Store(true)
		ps.imp.Store(nil)
		_ = ps.p.Close()
		f.run.mu.Lock()
		done := ps.done
		f.run.mu.Unlock()
		if done != nil {
			<-done
		}
		// Frames still queued for it are not written; what other
		// readers still send it is dropped.
		ps.stopWriter()
	}
	f.forget(v.Name, a.ENI.IP)
	if a.ENI.IPv6.IsValid() {
		f.forget(v.Name, a.ENI.IPv6)
	}
	return nil
}

// AddedNodes returns the nodes added at run time and still in the lab, in
// the order they were added.
func (f *Fabric) AddedNodes() []AddedNode {
	f.edits.Lock()
	defer f.edits.Unlock()
	return slices.Clone(f.added)
}

// forget drops the GWLB flows and NAT connections of a removed node's
// address: nothing it started or received lives on to meet a node that
// takes the address later. Flows are looked for at every endpoint (traffic
// from a VPC may be inspected in another, through a transit gateway)
// except those of other VPCs that hold the address themselves: VPCs may
// overlap, and their hosts' flows are their own.
func (f *Fabric) forget(vpc string, addr netip.Addr) {
	for _, ep := range f.lab.Load().endpoints {
		if ep.subnet == nil {
			continue
		}
		if v := ep.subnet.vpc; v.name != vpc && slices.ContainsFunc(v.cidrs, func(c netip.Prefix) bool { return c.Contains(addr) }) {
			continue
		}
		for _, lb := range f.rt.lbs {
			for _, n := range lb.Nodes() {
				n.ForgetHost(ep.number, addr)
			}
		}
	}
	for k, t := range f.rt.nats {
		if k.vpc == vpc {
			t.forget(addr)
		}
	}
}

// findSubnet finds a subnet by name, in vpc when it is set.
func findSubnet(s *config.Snapshot, vpc, subnet string) (vi, si int, err error) {
	if subnet == "" {
		return 0, 0, fmt.Errorf("%w: a subnet is required", ErrInvalid)
	}
	vi, si = -1, -1
	var in []string
	for i, v := range s.VPCs {
		if vpc != "" && v.Name != vpc {
			continue
		}
		for j, sn := range v.Subnets {
			if sn.Name == subnet {
				vi, si = i, j
				in = append(in, v.Name)
			}
		}
	}
	switch {
	case vpc != "" && !slices.ContainsFunc(s.VPCs, func(v config.VPC) bool { return v.Name == vpc }):
		return 0, 0, fmt.Errorf("vpc %q: %w", vpc, ErrNotFound)
	case len(in) == 0 && vpc != "":
		return 0, 0, fmt.Errorf("subnet %q in vpc %q: %w", subnet, vpc, ErrNotFound)
	case len(in) == 0:
		return 0, 0, fmt.Errorf("subnet %q: %w", subnet, ErrNotFound)
	case len(in) > 1:
		return 0, 0, fmt.Errorf("%w: subnet %q is in vpcs %v: name the vpc", ErrInvalid, subnet, in)
	}
	return vi, si, nil
}

// checkNewENI checks a node to be added to subnet si of vpc vi: its name
// is valid and unused, its addresses are free and usable in the subnet,
// its MAC unused.
func checkNewENI(s *config.Snapshot, l *lab, vi, si int, e config.ENI) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	v, sn := s.VPCs[vi], s.VPCs[vi].Subnets[si]
	if !nodeNameRE.MatchString(e.Node) || e.Node == config.TargetLocal || e.Node == config.TargetBlackhole {
		return bad("node name %q is not valid: use lowercase letters, digits and hyphens, at most 32, not starting or ending with a hyphen", e.Node)
	}
	if e.NetNS == "" || e.Interface == "" {
		return bad("node %q: the path of its network namespace and its interface's name are required", e.Node)
	}
	if nameInUse(s, e.Node) {
		return bad("the name %q is taken: choose another node name", e.Node)
	}
	if e.PublicIP.IsValid() {
		return bad("node %q: a public IP is not supported for nodes added at run time", e.Node)
	}
	if !e.IP.Is4() {
		return bad("node %q: an IPv4 address is required", e.Node)
	}
	if !sn.CIDR.Contains(e.IP) {
		return bad("address %s is outside subnet %q (%s)", e.IP, sn.Name, sn.CIDR)
	}
	if subnetReserved(sn.CIDR, e.IP) {
		return bad("address %s is one of the five AWS reserves in subnet %q (%s): the first four and the last", e.IP, sn.Name, sn.CIDR)
	}
	cv := l.vpcs[vi]
	if _, taken := cv.owners[e.IP]; taken {
		return bad("address %s is already used in vpc %q", e.IP, v.Name)
	}
	if e.IPv6.IsValid() {
		switch {
		case !sn.IPv6CIDR.IsValid():
			return bad("subnet %q has no IPv6 cidr for address %s", sn.Name, e.IPv6)
		case !sn.IPv6CIDR.Contains(e.IPv6) || e.IPv6 == sn.RouterV6 || e.IPv6 == sn.IPv6CIDR.Addr():
			return bad("address %s is not a usable address of subnet %q (%s)", e.IPv6, sn.Name, sn.IPv6CIDR)
		}
		if _, taken := cv.owners[e.IPv6]; taken {
			return bad("address %s is already used in vpc %q", e.IPv6, v.Name)
		}
	}
	if e.MAC == (config.MAC{}) || e.MAC[0]&1 != 0 {
		return bad("node %q: MAC %s is not a unicast address", e.Node, e.MAC)
	}
	if slices.ContainsFunc(s.AllENIs(), func(o config.ENI) bool { return o.MAC == e.MAC }) || macIsRouter(s, e.MAC) {
		return bad("MAC %s is already used in the lab", e.MAC)
	}
	return nil
}

// nameInUse reports whether a name already names a node, GWLB node or
// route target of the lab.
func nameInUse(s *config.Snapshot, name string) bool {
	if slices.ContainsFunc(s.AllENIs(), func(e config.ENI) bool { return e.Node == name }) {
		return true
	}
	for _, g := range s.GWLBs {
		if g.Name == name || slices.ContainsFunc(g.Nodes, func(n config.GWLBNode) bool { return n.Name == name }) {
			return true
		}
	}
	for _, v := range s.VPCs {
		if v.Name == name || targetKind(s, v, name) != "" {
			return true
		}
	}
	return false
}

// macIsRouter reports whether a MAC is a subnet or segment router's.
func macIsRouter(s *config.Snapshot, m config.MAC) bool {
	for _, v := range s.VPCs {
		for _, sn := range v.Subnets {
			if sn.RouterMAC == m {
				return true
			}
		}
	}
	if s.Internet != nil {
		for _, seg := range s.Internet.Segments {
			if seg.RouterMAC == m {
				return true
			}
		}
	}
	return false
}

// subnetReserved reports whether a is one of the five addresses AWS keeps
// in every IPv4 subnet: the network address, the router, DNS, one for
// future use, and the last address.
func subnetReserved(p netip.Prefix, a netip.Addr) bool {
	first := p.Masked().Addr()
	for range 4 {
		if a == first {
			return true
		}
		first = first.Next()
	}
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(uint64(1)<<(32-p.Bits()) - 1)
	return a == netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// withENIs returns a copy of s whose subnet si of vpc vi holds enis;
// everything else is shared with s, which stays as it was.
func withENIs(s *config.Snapshot, vi, si int, enis []config.ENI) *config.Snapshot {
	next := *s
	next.VPCs = slices.Clone(s.VPCs)
	v := &next.VPCs[vi]
	v.Subnets = slices.Clone(v.Subnets)
	v.Subnets[si].ENIs = enis
	return &next
}
