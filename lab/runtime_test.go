package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

// runtimeLab makes the state directory of a lab of the default topology
// that is up, in a temporary state root, without making anything of it.
func runtimeLab(t *testing.T) (*Manager, *topology.Lab, Paths) {
	t.Helper()
	return runtimeLabOf(t, resolveDefault(t))
}

// runtimeLabOf is runtimeLab of the resolved lab l.
func runtimeLabOf(t *testing.T, l *topology.Lab) (*Manager, *topology.Lab, Paths) {
	t.Helper()
	root := t.TempDir()
	m, err := NewManager(Options{StateRoot: root, NetnsDir: t.TempDir(), Binary: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Paths(l.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(p.Dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	st := &State{Lab: l.Name, Prefix: l.Prefix, Phase: PhaseUp, Created: time.Now()}
	for _, n := range l.Nodes {
		st.Namespaces = append(st.Namespaces, n.Netns)
	}
	if err := writeState(p, st); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(p.Resolved(), l); err != nil {
		t.Fatal(err)
	}
	return m, l, p
}

func like(name, subnet, of string) *NodeSpec {
	return &NodeSpec{Name: name, Subnet: subnet, Like: of}
}

func TestReserveLowestFreeAddress(t *testing.T) {
	m, l, p := runtimeLab(t)
	ctx := context.Background()
	n, err := m.reserve(ctx, l.Name, p, l, like("fw-3", "appliances", "fw-1"))
	if err != nil {
		t.Fatal(err)
	}
	// .0-.3 are AWS's; fw-1 and fw-2 are .11 and .12.
	if got := n.Interface.Addr.String(); got != "10.20.1.4/24" {
		t.Errorf("first added node: %s, want 10.20.1.4/24", got)
	}
	if n.Run == nil || n.Run.Kind != topology.RunAppliance {
		t.Errorf("--like fw-1 did not copy its appliance: %+v", n.Run)
	}
	if !strings.HasPrefix(n.ID, "i-") || len(n.ID) != 19 {
		t.Errorf("instance id %q, want i-<17 hex>", n.ID)
	}
	if n.Netns != topology.NetnsName(l.Name, "fw-3") || n.VPC != "security" || n.AZ != "az1" {
		t.Errorf("placed as %+v", n)
	}
	n2, err := m.reserve(ctx, l.Name, p, l, like("fw-4", "appliances", "fw-3"))
	if err != nil {
		t.Fatal(err)
	}
	if got := n2.Interface.Addr.Addr().String(); got != "10.20.1.5" {
		t.Errorf("second added node: %s, want 10.20.1.5 (the first's address is taken)", got)
	}
	if n2.Interface.MAC == n.Interface.MAC {
		t.Errorf("two added nodes share MAC %s", n.Interface.MAC)
	}
	st, err := readState(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.RuntimeNodes) != 2 || st.RuntimeNodes[0].Phase != PhaseCreating || st.RuntimeNodes[1].From != "like:fw-3" {
		t.Errorf("records: %+v", st.RuntimeNodes)
	}
	for _, ns := range []string{n.Netns, n2.Netns} {
		if !containsStr(st.Namespaces, ns) {
			t.Errorf("namespace %s not recorded before it is made", ns)
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The endpoint subnet (a /28) holds the GWLB endpoint's ENI, which no node
// names: the walk of the resolved lab finds it anyway.
func TestReserveSkipsEveryObjectsAddress(t *testing.T) {
	m, l, p := runtimeLab(t)
	v, _ := l.VPC("consumer")
	ep, _ := v.Endpoint("gwlbe-1")
	n, err := m.reserve(context.Background(), l.Name, p, l, like("x", "endpoint", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Interface.Addr.Addr() == ep.Addr {
		t.Fatalf("added node got the endpoint's address %s", ep.Addr)
	}
	if topology.Reserved(netip.MustParsePrefix("10.0.2.0/28"), n.Interface.Addr.Addr()) {
		t.Fatalf("added node got a reserved address %s", n.Interface.Addr)
	}
}

func TestReserveRefuses(t *testing.T) {
	m, l, p := runtimeLab(t)
	ctx := context.Background()
	if _, err := m.reserve(ctx, l.Name, p, l, like("fw-3", "appliances", "fw-1")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		spec NodeSpec
		want string
	}{
		{"topology name", NodeSpec{Name: "fw-1", Subnet: "appliances", Like: "fw-1"}, "has a node of that name"},
		{"added name", NodeSpec{Name: "fw-3", Subnet: "appliances", Like: "fw-1"}, "has a node of that name"},
		{"endpoint's name", NodeSpec{Name: "gwlbe-1", Subnet: "appliances", Like: "fw-1"}, "has a GWLB endpoint of that name"},
		{"vpc's name", NodeSpec{Name: "security", Subnet: "appliances", Like: "fw-1"}, "has a vpc of that name"},
		{"used address", NodeSpec{Name: "a", Subnet: "appliances", Like: "fw-1", IP: "10.20.1.11"}, "already used"},
		{"added address", NodeSpec{Name: "a", Subnet: "appliances", Like: "fw-1", IP: "10.20.1.4"}, "already used"},
		{"reserved address", NodeSpec{Name: "a", Subnet: "appliances", Like: "fw-1", IP: "10.20.1.3"}, "reserves"},
		{"broadcast", NodeSpec{Name: "a", Subnet: "appliances", Like: "fw-1", IP: "10.20.1.255"}, "reserves"},
		{"outside", NodeSpec{Name: "a", Subnet: "appliances", Like: "fw-1", IP: "10.20.2.9"}, "not in the subnet"},
		{"no subnet", NodeSpec{Name: "a", Subnet: "nope", Like: "fw-1"}, `no subnet "nope"`},
		{"no vpc", NodeSpec{Name: "a", VPC: "nope", Subnet: "app", Like: "fw-1"}, `no vpc "nope"`},
		{"like nothing", NodeSpec{Name: "a", Subnet: "app", Like: "nope"}, "no such node"},
		{"like gwlb node", NodeSpec{Name: "a", Subnet: "app", Like: "gwlb-1-az1"}, "not an instance"},
		{"ipv6 without", NodeSpec{Name: "a", Subnet: "app", Like: "web", IPv6: IPv6Auto}, "no ipv6_cidr"},
	} {
		if _, err := m.reserve(ctx, l.Name, p, l, &c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one saying %q", c.name, err, c.want)
		}
	}
	st, _ := readState(p)
	if len(st.RuntimeNodes) != 1 {
		t.Errorf("refused reservations left records: %+v", st.RuntimeNodes)
	}
}

func TestReserveNeedsALabThatIsUp(t *testing.T) {
	m, l, p := runtimeLab(t)
	if _, err := updateState(p, func(s *State) error { s.Phase = PhaseCreating; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := m.reserve(context.Background(), l.Name, p, l, like("a", "app", "web")); err == nil || !strings.Contains(err.Error(), "not up") {
		t.Fatalf("err %v, want not up", err)
	}
}

// Adds run in parallel (an auto scaling controller execs them): each gets
// its own address and record, none is lost.
func TestReserveConcurrently(t *testing.T) {
	m, l, p := runtimeLab(t)
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.reserve(context.Background(), l.Name, p, l, like(fmt.Sprintf("n-%d", i), "appliances", "fw-1"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st, err := readState(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.RuntimeNodes) != n {
		t.Fatalf("%d records, want %d", len(st.RuntimeNodes), n)
	}
	seen := map[netip.Addr]string{}
	for _, rn := range st.RuntimeNodes {
		a := rn.Node.Interface.Addr.Addr()
		if other, dup := seen[a]; dup {
			t.Errorf("%s and %s share %s", other, rn.Node.Name, a)
		}
		seen[a] = rn.Node.Name
	}
}

func TestNodeSpecValidate(t *testing.T) {
	body := &topology.InstanceSpec{Run: &topology.RunSpec{Command: []string{"sleep", "1"}}}
	for _, c := range []struct {
		name string
		spec NodeSpec
		want string
	}{
		{"bad name", NodeSpec{Name: "Fw_3", Subnet: "s", Like: "x"}, "not valid"},
		{"reserved name", NodeSpec{Name: "local", Subnet: "s", Like: "x"}, "not valid"},
		{"no subnet", NodeSpec{Name: "a", Like: "x"}, "subnet is required"},
		{"no body", NodeSpec{Name: "a", Subnet: "s"}, "say what runs"},
		{"two bodies", NodeSpec{Name: "a", Subnet: "s", Like: "x", Body: body}, "give its body once"},
		{"like and asg", NodeSpec{Name: "a", Subnet: "s", Like: "x", ASG: "fleet"}, "give its body once"},
		{"bad ip", NodeSpec{Name: "a", Subnet: "s", Like: "x", IP: "10.0.0"}, "not an IPv4"},
		{"v6 as ip", NodeSpec{Name: "a", Subnet: "s", Like: "x", IP: "2001:db8::1"}, "not an IPv4"},
		{"bad ipv6", NodeSpec{Name: "a", Subnet: "s", Like: "x", IPv6: "10.0.0.1"}, "not an IPv6"},
		{"bad body", NodeSpec{Name: "a", Subnet: "s", Body: &topology.InstanceSpec{Run: &topology.RunSpec{}}}, "node file"},
	} {
		if err := c.spec.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one saying %q", c.name, err, c.want)
		}
	}
	ok := NodeSpec{Name: "fw-3", Subnet: "s", Body: body, IPv6: IPv6Auto}
	if err := ok.validate(); err != nil {
		t.Errorf("valid spec refused: %v", err)
	}
	// The subnet may come from the node file.
	ok = NodeSpec{Name: "fw-3", Body: &topology.InstanceSpec{Subnet: "s", Run: body.Run}}
	if err := ok.validate(); err != nil {
		t.Errorf("subnet from the file refused: %v", err)
	}
}

func TestAllocate(t *testing.T) {
	cidr := netip.MustParsePrefix("10.9.0.0/29") // .0-.3 and .7 reserved: .4-.6 usable
	used := map[netip.Addr]bool{netip.MustParseAddr("10.9.0.4"): true}
	a, err := allocate(cidr, used, netip.Addr{})
	if err != nil || a.String() != "10.9.0.5" {
		t.Fatalf("allocate: %v %v, want 10.9.0.5", a, err)
	}
	used[a], used[netip.MustParseAddr("10.9.0.6")] = true, true
	if _, err := allocate(cidr, used, netip.Addr{}); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Fatalf("full subnet: %v", err)
	}
}

func TestLockNodeRefusesASecondHolder(t *testing.T) {
	p := Paths{Dir: t.TempDir()}
	unlock, err := lockNode(p, "fw-3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockNode(p, "fw-3"); !errors.Is(err, ErrNodeBusy) {
		t.Fatalf("second lock: %v, want ErrNodeBusy", err)
	}
	other, err := lockNode(p, "fw-4")
	if err != nil {
		t.Fatalf("another node's lock: %v", err)
	}
	other()
	unlock()
	again, err := lockNode(p, "fw-3")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

func TestReserveIPv6(t *testing.T) {
	src := strings.NewReplacer(
		"cidr: 10.0.0.0/16\n", "cidr: 10.0.0.0/16\n    ipv6_cidr: 2600:1f18:0:100::/56\n",
		"app: {az: az1, cidr: 10.0.1.0/24, route_table: app}", `app: {az: az1, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:0:101::/64", route_table: app}`,
	).Replace(string(scenarios.Default()))
	l := resolveSrc(t, []byte(src), "dualstack.yaml")
	m, _, p := runtimeLab(t)
	if err := writeJSON(p.Resolved(), l); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := m.reserve(ctx, l.Name, p, l, &NodeSpec{Name: "a", Subnet: "app", Like: "web", IPv6: IPv6Auto})
	if err != nil {
		t.Fatal(err)
	}
	// The host number of 10.0.1.4 in the /64, as the file's default.
	if got := n.Interface.Addr6.String(); got != "2600:1f18:0:101::4/64" || n.Interface.Gateway6.String() != "2600:1f18:0:101::1" {
		t.Errorf("ipv6 %s via %s", got, n.Interface.Gateway6)
	}
	web, _ := l.Node("web")
	if _, err := m.reserve(ctx, l.Name, p, l, &NodeSpec{Name: "b", Subnet: "app", Like: "web", IPv6: web.Interface.Addr6.Addr().String()}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("web's IPv6 address given again: %v", err)
	}
	if _, err := m.reserve(ctx, l.Name, p, l, &NodeSpec{Name: "c", Subnet: "app", Like: "web", IPv6: "2600:1f18:0:999::5"}); err == nil || !strings.Contains(err.Error(), "not in the subnet") {
		t.Errorf("an IPv6 address outside the subnet: %v", err)
	}
}
