package topology

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
)

// Validate checks a parsed file against the rules of docs/topology.md and
// returns every finding, sorted by line. The file is valid when no finding
// is an error; warnings name patterns that the lab builds although they
// cannot work on AWS.
func Validate(f *File) Diagnostics {
	c := newChecker(f)
	c.run()
	return c.diags
}

// checker validates a file and, on the way, builds the index Resolve reads:
// parsed prefixes, addresses (given or allocated), references followed.
type checker struct {
	f     *File
	t     *Topology
	diags Diagnostics

	objects   map[string]object // every globally named object
	vpcs      map[string]*vpcInfo
	enis      map[string]*eniInfo // instances, NAT gateways, endpoints, by name
	hosts     map[string]*hostInfo
	segments  []*segmentInfo
	gwlbs     map[string]*gwlbInfo
	services  map[string]*serviceInfo
	tgNames   map[string]string // target group name -> gwlb
	publicIPs map[netip.Addr]string
	tgws      map[string]*tgwInfo
}

// objKind names the kinds of globally named objects, as messages say them.
type objKind string

const (
	kindVPC     objKind = "vpc"
	kindIGW     objKind = "internet gateway"
	kindNAT     objKind = "NAT gateway"
	kindInst    objKind = "instance"
	kindGWLBE   objKind = "GWLB endpoint"
	kindGWLB    objKind = "GWLB"
	kindService objKind = "endpoint service"
	kindHost    objKind = "internet host"
	kindNode    objKind = "GWLB node"
)

// object is a globally named object: VPC, internet gateway, NAT gateway,
// instance, GWLB endpoint, GWLB, endpoint service, internet host, and the
// derived GWLB node names.
type object struct {
	kind objKind
	path string
	vpc  string // for objects that live in a VPC
}

type vpcInfo struct {
	name, path string
	cidr       netip.Prefix // invalid when the file's is
	v6         netip.Prefix
	igw        string
	edgeTable  string
	subnets    map[string]*subnetInfo
	tables     map[string]*tableInfo
}

type subnetInfo struct {
	name, vpc, az, path string
	cidr, v6            netip.Prefix
	table               string // effective route table; "" when unknown
	enis                []*eniInfo
}

type tableInfo struct {
	name, vpc, path, edge string
	routes                []routeInfo
	subnets               []string
}

type routeInfo struct {
	path   string
	dst    netip.Prefix // invalid when the file's is
	target string
	kind   TargetKind // "" when the target is invalid
}

// eniInfo is anything with an address in a subnet: an instance, a NAT
// gateway, a GWLB endpoint or a GWLB node.
type eniInfo struct {
	name     string
	kind     objKind
	vpc      string
	subnet   string // "" when the file's is invalid
	path     string
	field    string // the address field, for lines ("" when the address is the path's value)
	label    string // what messages call the address
	given    string // address as written
	addr     netip.Addr
	addr6    netip.Addr // IPv6 address in a dualstack subnet
	given6   string     // instances: ipv6_address as written
	public   netip.Addr
	sdc      bool   // source/dest check (instances)
	service  string // endpoints: the service
	gwlb     string // endpoints: the GWLB used in their AZ; nodes: their GWLB
	allocate int    // allocation order among kinds (lower first)
}

type hostInfo struct {
	name, path  string
	ip, gateway netip.Addr
	segment     netip.Prefix
	ip6, gw6    netip.Addr // zero without IPv6
}

type segmentInfo struct {
	prefix  netip.Prefix
	gateway netip.Addr
	hosts   []string
	// v6 are the IPv6 /64s of the segment's hosts, each with its router.
	v6 []segmentV6
}

type segmentV6 struct {
	prefix  netip.Prefix
	gateway netip.Addr
	host    string // the first host on it
}

type gwlbInfo struct {
	name, path, vpc string
	nodes           []*eniInfo // one per enabled subnet, in file order
	azs             map[string]string
	tgName          string
	stickiness      Stickiness
	targets         []targetInfo
	service         string
}

type targetInfo struct {
	id, node, az, subnet string
	addr                 netip.Addr
}

type serviceInfo struct {
	name, path string
	gwlbs      []string // valid ones, in order
	endpoints  []string
}

func newChecker(f *File) *checker {
	return &checker{
		f:         f,
		t:         &f.Topology,
		objects:   map[string]object{},
		vpcs:      map[string]*vpcInfo{},
		enis:      map[string]*eniInfo{},
		hosts:     map[string]*hostInfo{},
		gwlbs:     map[string]*gwlbInfo{},
		services:  map[string]*serviceInfo{},
		tgNames:   map[string]string{},
		publicIPs: map[netip.Addr]string{},
		tgws:      map[string]*tgwInfo{},
	}
}

func (c *checker) run() {
	c.checkLab()
	if !c.checkLimits() {
		sortDiagnostics(c.diags)
		return
	}
	c.checkNames()
	c.checkInternet()
	c.checkVPCs()
	c.checkGWLBs()
	c.checkServices()
	c.checkTGWs()
	c.checkENIs()
	c.checkEndpoints()
	c.checkRouteTables()
	c.checkTargets()
	c.checkASGs()
	c.checkPublicIPs()
	c.checkConnectedOverlaps()
	c.checkIPv6()
	c.checkRuns()
	c.checkRoutingPatterns()
	c.checkTGWPatterns()
	sortDiagnostics(c.diags)
}

// add records a finding about the object at path; field, when set, names the
// field whose line the finding points at.
func (c *checker) add(sev Severity, spec, path, field, format string, args ...any) {
	c.diags = append(c.diags, Diagnostic{
		Severity: sev,
		Path:     path,
		Line:     c.f.Line(linePath(path, field)),
		Message:  fmt.Sprintf(format, args...),
		Spec:     spec,
	})
}

func (c *checker) errorf(path, field, format string, args ...any) {
	c.add(SeverityError, "", path, field, format, args...)
}

func (c *checker) specErrorf(spec, path, field, format string, args ...any) {
	c.add(SeverityError, spec, path, field, format, args...)
}

func (c *checker) warnf(spec, path, field, format string, args ...any) {
	c.add(SeverityWarning, spec, path, field, format, args...)
}

// timing reports a timing value outside AWS's range: an error, or a warning
// when the file opts in with lab.lab_timings.
func (c *checker) timing(spec, path, field, format string, args ...any) {
	if c.t.Lab.LabTimings {
		c.add(SeverityWarning, spec, path, field, format+" (accepted: lab.lab_timings is true)", args...)
		return
	}
	c.add(SeverityError, spec, path, field, format+" (set lab.lab_timings: true to allow it in the lab)", args...)
}

// linePath returns the path whose line a finding about field of the object
// at path points at.
func linePath(path, field string) string {
	if field == "" {
		return path
	}
	return childPath(path, field)
}

// keys returns the keys of a map of the file in file order (then by name).
func keys[V any](c *checker, parent string, m map[string]V) []string {
	list := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(list, func(a, b string) int {
		return cmp.Compare(c.f.Line(childPath(parent, a)), c.f.Line(childPath(parent, b)))
	})
	return list
}

func (c *checker) checkLab() {
	if ts := c.t.Lab.TimeScale; ts != nil && !(*ts >= clock.MinScale && *ts <= clock.MaxScale) {
		c.errorf("lab", "time_scale", "time_scale must be between %v and %v, got %v: faster, the shortest timers would last under a millisecond; slower, the longest would outlast the lab", clock.MinScale, clock.MaxScale, *ts)
	}
	if len(c.t.VPCs) == 0 {
		c.errorf("", "vpcs", "vpcs is required: a lab needs at least one VPC")
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

const nameRule = "use lowercase letters, digits and hyphens, at most 32, not starting or ending with a hyphen"

// isReserved reports whether a name is a route target of its own and so
// cannot name an object.
func isReserved(name string) bool {
	return name == string(TargetLocal) || name == string(TargetBlackhole)
}

// checkName checks the syntax of a name; what says what it names.
func (c *checker) checkName(path, what, name string) bool {
	if !nameRE.MatchString(name) {
		c.errorf(path, "", "%s name %q is not valid: %s", what, name, nameRule)
		return false
	}
	return true
}

// checkNames checks every name's syntax and that names of globally named
// objects are unique across kinds.
func (c *checker) checkNames() {
	type def struct {
		name string
		obj  object
	}
	var defs []def
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		v := c.t.VPCs[vn]
		vp := childPath("vpcs", vn)
		c.checkName(vp, "vpc", vn)
		defs = append(defs, def{vn, object{kindVPC, vp, ""}})
		if v.InternetGateway != "" {
			ip := childPath(vp, "internet_gateway")
			c.checkName(ip, "internet gateway", v.InternetGateway)
			defs = append(defs, def{v.InternetGateway, object{kindIGW, ip, vn}})
		}
		for _, n := range keys(c, childPath(vp, "subnets"), v.Subnets) {
			sp := childPath(childPath(vp, "subnets"), n)
			c.checkName(sp, "subnet", n)
			if az := v.Subnets[n].AZ; az != "" && !nameRE.MatchString(az) {
				c.errorf(sp, "az", "az name %q is not valid: %s", az, nameRule)
			}
		}
		for _, n := range keys(c, childPath(vp, "route_tables"), v.RouteTables) {
			c.checkName(childPath(childPath(vp, "route_tables"), n), "route table", n)
		}
		add := func(section string, kind objKind, names []string) {
			for _, n := range names {
				p := childPath(childPath(vp, section), n)
				c.checkName(p, string(kind), n)
				defs = append(defs, def{n, object{kind, p, vn}})
			}
		}
		add("nat_gateways", kindNAT, keys(c, childPath(vp, "nat_gateways"), v.NATGateways))
		add("instances", kindInst, keys(c, childPath(vp, "instances"), v.Instances))
		add("gwlb_endpoints", kindGWLBE, keys(c, childPath(vp, "gwlb_endpoints"), v.GWLBEndpoints))
	}
	for _, n := range keys(c, "gwlbs", c.t.GWLBs) {
		p := childPath("gwlbs", n)
		c.checkName(p, "gwlb", n)
		defs = append(defs, def{n, object{kindGWLB, p, ""}})
	}
	for _, n := range keys(c, "endpoint_services", c.t.EndpointServices) {
		p := childPath("endpoint_services", n)
		c.checkName(p, "endpoint service", n)
		defs = append(defs, def{n, object{kindService, p, ""}})
	}
	for _, n := range keys(c, "internet.hosts", c.t.Internet.Hosts) {
		p := childPath("internet.hosts", n)
		c.checkName(p, "internet host", n)
		defs = append(defs, def{n, object{kindHost, p, ""}})
	}
	c.tgwNames(func(name string, o object) { defs = append(defs, def{name, o}) })
	c.asgNames(func(name string, o object) { defs = append(defs, def{name, o}) })
	slices.SortStableFunc(defs, func(a, b def) int { return cmp.Compare(c.f.Line(a.obj.path), c.f.Line(b.obj.path)) })
	for _, d := range defs {
		if isReserved(d.name) {
			c.errorf(d.obj.path, "", "name %q is reserved (it is a route target of its own)", d.name)
			continue
		}
		if prev, dup := c.objects[d.name]; dup {
			c.errorf(d.obj.path, "", "name %q is already used by the %s at %s (names are unique across the file)", d.name, prev.kind, prev.path)
			continue
		}
		c.objects[d.name] = d.obj
	}
}

// lookup returns the object named name when it has the wanted kind.
func (c *checker) lookup(name string, kind objKind) (object, bool) {
	o, ok := c.objects[name]
	return o, ok && o.kind == kind
}

// describe names an object for a message: `instance "web"`.
func describe(kind objKind, name string) string { return fmt.Sprintf("%s %q", kind, name) }

// article returns "a" or "an" for a kind.
func article(kind objKind) string {
	if strings.ContainsAny(string(kind)[:1], "aeioAEIO") {
		return "an " + string(kind)
	}
	return "a " + string(kind)
}
