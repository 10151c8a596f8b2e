package wire_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
	"github.com/gwlb-lab/gwlb-lab/lab/wire"
)

// BenchmarkNodeLifecycle measures what `up` and `down` pay per node: create
// a named namespace, wire a dual-stack TAP into it, turn forwarding off, and
// remove the namespace (which takes the TAP with it). Run it with
// -benchtime=100x for the cost of 100 nodes.
func BenchmarkNodeLifecycle(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates network namespaces and TAP devices")
	}
	ctx := context.Background()
	be := netns.New("")
	prefix := "gwlb-" + randomLab() + "-"
	b.Cleanup(func() {
		// Only after a failure is anything left; sweep our prefix.
		names, err := be.List(ctx, prefix)
		if err != nil {
			b.Error(err)
		}
		for _, n := range names {
			if err := be.Remove(ctx, n); err != nil {
				b.Error(err)
			}
		}
	})
	spec := wire.PortSpec{
		MAC:      net.HardwareAddr{0x02, 0, 0x0a, 0, 0x01, 0x0a},
		IPv4:     netip.MustParsePrefix("10.0.1.10/24"),
		IPv6:     netip.MustParsePrefix("fd00:1::10/64"),
		Gateway4: netip.MustParseAddr("10.0.1.1"),
		Gateway6: netip.MustParseAddr("fd00:1::1"),
	}
	b.Run("create+remove", func(b *testing.B) {
		i := 0
		for b.Loop() {
			name := fmt.Sprintf("%sn%d", prefix, i)
			i++
			if _, err := be.Create(ctx, backend.NodeSpec{Name: name}); err != nil {
				b.Fatal(err)
			}
			if err := be.Remove(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create+wire+remove", func(b *testing.B) {
		// Per-phase means, so a slow run shows where the time went
		// (namespace creation waits on the kernel's cleanup of the
		// namespaces removed before it).
		var create, wiring, remove time.Duration
		i := 0
		for b.Loop() {
			name := fmt.Sprintf("%sw%d", prefix, i)
			i++
			t0 := time.Now()
			n, err := be.Create(ctx, backend.NodeSpec{Name: name})
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := wire.AddTAP(n.NetNSPath(), spec); err != nil {
				b.Fatal(err)
			}
			if err := wire.SetForwarding(n.NetNSPath(), false, false); err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			if err := be.Remove(ctx, name); err != nil {
				b.Fatal(err)
			}
			create += t1.Sub(t0)
			wiring += t2.Sub(t1)
			remove += time.Since(t2)
		}
		b.ReportMetric(float64(create.Microseconds())/float64(i), "create-µs/op")
		b.ReportMetric(float64(wiring.Microseconds())/float64(i), "wire-µs/op")
		b.ReportMetric(float64(remove.Microseconds())/float64(i), "remove-µs/op")
	})
}
