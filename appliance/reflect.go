package appliance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/net/ipv4"
)

// reflectTCP sends every TCP packet the host receives back to its sender
// with the source and destination addresses swapped, until ctx ends: what
// Snort 3's gwlb DAQ does to the GWLB node's health checks when nothing
// filters them out. Ports, flags, sequence numbers and checksums stay as
// received (swapping the two addresses leaves the checksums right). The
// kernel still gets each packet too, so the health responder answers as
// before. Its goroutines are counted in wg.
func reflectTCP(ctx context.Context, wg *sync.WaitGroup) error {
	pc, err := net.ListenPacket("ip4:tcp", "0.0.0.0")
	if err != nil {
		return fmt.Errorf("reflect tcp: %w", err)
	}
	rc, err := ipv4.NewRawConn(pc)
	if err != nil {
		pc.Close()
		return fmt.Errorf("reflect tcp: %w", err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		rc.Close()
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			h, payload, _, err := rc.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if h.FragOff != 0 || h.Flags&ipv4.MoreFragments != 0 {
				continue
			}
			h.Src, h.Dst = h.Dst, h.Src
			_ = rc.WriteTo(h, payload, nil)
		}
	}()
	return nil
}
