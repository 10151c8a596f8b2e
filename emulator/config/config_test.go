package config

import (
	"strings"
	"testing"
)

func TestEndpointNumber(t *testing.T) {
	n, err := EndpointNumber("vpce-0123456789abcdef0")
	if err != nil || n != 0x0123456789abcdef0>>0 {
		t.Fatalf("got %x, %v", n, err)
	}
	for _, bad := range []string{"vpce-123", "vpc-0123456789abcdef0", "vpce-0123456789abcdefg", "vpce-1123456789abcdef0"} {
		if _, err := EndpointNumber(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestMACText(t *testing.T) {
	var m MAC
	if err := m.UnmarshalText([]byte("02:00:5e:10:00:01")); err != nil || m.String() != "02:00:5e:10:00:01" {
		t.Fatalf("%v %v", m, err)
	}
	if err := m.UnmarshalText([]byte("02:00")); err == nil {
		t.Fatal("want an error")
	}
}

func TestValidateNamesProblems(t *testing.T) {
	s := &Snapshot{Version: Version, Lab: "x", TimeScale: 1, VPCs: []VPC{{
		Name: "v", Subnets: []Subnet{{Name: "a", RouteTable: "missing"}},
		RouteTables: []RouteTable{{Name: "rt", Routes: []Route{{Kind: TargetNAT, Target: "nat-9"}}}},
	}}}
	err := s.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{`route table "missing" is not defined`, `nat target "nat-9" is not defined`, "invalid IPv4 CIDR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	s.Version = 99
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "unsupported config version") {
		t.Fatalf("version: %v", err)
	}
}

// TestValidateTimings: the emulator refuses a time_scale or a timing that
// would make a timer's interval zero, negative or overflowing, whatever
// wrote the snapshot.
func TestValidateTimings(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Snapshot)
		want string
	}{
		{"huge scale", func(s *Snapshot) { s.TimeScale = 1e308 }, "time_scale must be between 0.01 and 1000, got 1e+308"},
		{"fast scale", func(s *Snapshot) { s.TimeScale = 2e10 }, "time_scale must be between 0.01 and 1000, got 2e+10"},
		{"slow scale", func(s *Snapshot) { s.TimeScale = 1e-9 }, "time_scale must be between 0.01 and 1000, got 1e-09"},
		{"long interval", func(s *Snapshot) { s.GWLBs[0].TargetGroup.HealthCheck.Interval = 1 << 40 },
			`gwlb "g": health_check.interval must be between 0 and 86400 seconds, got 1099511627776`},
		{"negative delay", func(s *Snapshot) { s.GWLBs[0].TargetGroup.DeregistrationDelay = -1 },
			`gwlb "g": deregistration_delay must be between 0 and 86400 seconds, got -1`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Snapshot{Version: Version, Lab: "x", TimeScale: 1, GWLBs: []GWLB{{Name: "g"}}}
			tt.edit(s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}
