package fabric

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCapture(t *testing.T) {
	h := newHarness(t, plainVPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.f.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if _, _, err := h.f.Capture(ctx, "nobody", 8); !errors.Is(err, ErrNotFound) {
		t.Fatalf("capture of an unknown node: %v", err)
	}
	cctx, stop := context.WithCancel(ctx)
	clientFrames, _, err := h.f.Capture(cctx, "client", 8)
	if err != nil {
		t.Fatal(err)
	}
	webFrames, dropped, err := h.f.Capture(cctx, "web", 8)
	if err != nil {
		t.Fatal(err)
	}
	sent := tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
	h.ports["client"].in <- sent
	next := func(ch <-chan Frame) Frame {
		select {
		case f := <-ch:
			return f
		case <-time.After(10 * time.Second):
			t.Fatal("no frame captured")
			return Frame{}
		}
	}
	in := next(clientFrames)
	if in.ToNode || string(in.Data) != string(sent) {
		t.Fatalf("client capture: toNode=%v, % x", in.ToNode, in.Data)
	}
	out := next(webFrames)
	if !out.ToNode {
		t.Fatal("web capture: frame marked as sent by web")
	}
	// What web received is what the fabric delivered: translated by the IGW.
	checkIP(t, out.Data, macWeb, "198.51.100.10", "10.0.1.10")
	<-h.ports["web"].out
	if dropped() != 0 {
		t.Fatalf("%d frames dropped", dropped())
	}
	// Once the capture ends, nothing more is copied to it.
	stop()
	for i := 0; h.f.port("web").caps.load() != nil; i++ {
		if i > 1000 {
			t.Fatal("capture still subscribed after its context ended")
		}
		time.Sleep(time.Millisecond)
	}
	h.ports["client"].in <- sent
	<-h.ports["web"].out
	select {
	case f := <-webFrames:
		t.Fatalf("frame captured after the end: % x", f.Data)
	default:
	}
}
