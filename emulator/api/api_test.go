package api

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseFilters(t *testing.T) {
	for in, want := range map[string]string{"10.0.1.1": "10.0.1.1/32", "10.0.1.9/24": "10.0.1.0/24", "2001:db8::1": "2001:db8::1/128"} {
		if p, err := ParseHost(in); err != nil || p != netip.MustParsePrefix(want) {
			t.Errorf("ParseHost(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "10.0.1", "fe80::1%eth0", "host"} {
		if _, err := ParseHost(in); err == nil {
			t.Errorf("ParseHost(%q) accepted", in)
		}
	}
	for in, want := range map[string]int{"tcp": 6, "UDP": 17, "icmp": 1, "icmpv6": 58, "47": 47} {
		if p, err := ParseProto(in); err != nil || p != want {
			t.Errorf("ParseProto(%q) = %d, %v; want %d", in, p, err, want)
		}
	}
	for _, in := range []string{"", "0", "256", "gre"} {
		if _, err := ParseProto(in); err == nil {
			t.Errorf("ParseProto(%q) accepted", in)
		}
	}
}

func TestFlowFilterQuery(t *testing.T) {
	zero := 0
	q, err := FlowFilter{Target: "fw-1", Hosts: []string{"10.0.1.10", "10.0.2.0/24"}, Proto: "tcp", Offset: 3, Limit: &zero}.Query()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Encode(), "host=10.0.1.10&host=10.0.2.0%2F24&limit=0&offset=3&proto=tcp&target=fw-1"; got != want {
		t.Fatalf("query %s, want %s", got, want)
	}
	if q, _ := (FlowFilter{}).Query(); len(q) != 0 {
		t.Fatalf("the zero filter asks for %v", q)
	}
	for _, f := range []FlowFilter{{Hosts: []string{"nope"}}, {Proto: "gre"}, {Offset: -1}} {
		if _, err := f.Query(); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
}

func TestReadFlows(t *testing.T) {
	in := `{"gwlb":"g","node":"g-az1","src":"10.0.1.10:1000","proto":17}
{"gwlb":"g","node":"g-az2","src":"10.0.1.10:1001","proto":6}
{"summary":{"matched":5,"listed":2,"offset":3}}
`
	var got []Flow
	sum, err := ReadFlows(strings.NewReader(in), func(f Flow) error { got = append(got, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Node != "g-az2" || got[1].Proto != 6 || sum != (FlowSummary{Matched: 5, Listed: 2, Offset: 3}) {
		t.Fatalf("flows %+v, summary %+v", got, sum)
	}
	if _, err := ReadFlows(strings.NewReader(in[:strings.Index(in, `{"summary"`)]), func(Flow) error { return nil }); !errors.Is(err, ErrNoSummary) {
		t.Fatalf("a cut listing gave %v, want ErrNoSummary", err)
	}
	stop := errors.New("stop")
	if _, err := ReadFlows(strings.NewReader(in), func(Flow) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("the callback's error became %v", err)
	}
}

func TestCountersHelpers(t *testing.T) {
	c := Counters{Ports: []PortCounters{{Node: "a", RxPkts: 1}}, GWLB: []GWLBMetrics{
		{Drops: map[string]uint64{"no_healthy_target": 1}}, {Drops: map[string]uint64{"no_healthy_target": 2, "flow_limit": 0}}}}
	if d := c.GWLBDrops(); d["no_healthy_target"] != 3 || len(d) != 2 {
		t.Fatalf("GWLBDrops %v", d)
	}
	if p, ok := c.Port("a"); !ok || p.RxPkts != 1 {
		t.Fatalf("Port(a) = %+v, %v", p, ok)
	}
	if _, ok := c.Port("b"); ok {
		t.Fatal("Port(b) found")
	}
}

func TestPaths(t *testing.T) {
	if got := TargetPath("fw 1", "register"); got != "/v1/targets/fw%201/register" {
		t.Fatal(got)
	}
	if got := EndpointPath("e", "accept"); got != "/v1/endpoints/e/accept" {
		t.Fatal(got)
	}
	if got := TraceQuery([]string{"10.0.1.10"}, Limits{Count: 2, Seconds: 1.5}).Encode(); got != "count=2&host=10.0.1.10&seconds=1.5" {
		t.Fatal(got)
	}
}
