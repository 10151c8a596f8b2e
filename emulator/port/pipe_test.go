package port

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// frames returns n buffers of Headroom plus room for a whole frame.
func frames(n, mtu int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+mtu+FrameOverhead)
	}
	return bufs, make([]int, n)
}

// withFrame writes payload after the headroom of a fresh buffer.
func withFrame(payload []byte) []byte {
	return append(make([]byte, Headroom), payload...)
}

func TestPipeBothWays(t *testing.T) {
	a, b := NewPipe("eni-1", 1500)
	defer a.Close()
	defer b.Close()
	if a.Name() != "eni-1" || b.Name() != "eni-1-peer" || a.MTU() != 1500 || a.BatchSize() < 1 {
		t.Fatalf("a = %q/%d/%d, b = %q", a.Name(), a.MTU(), a.BatchSize(), b.Name())
	}
	for _, tt := range []struct {
		name     string
		from, to Port
	}{{"a to b", a, b}, {"b to a", b, a}} {
		t.Run(tt.name, func(t *testing.T) {
			sent := [][]byte{withFrame([]byte("first frame")), withFrame(bytes.Repeat([]byte{0xab}, 1500+FrameOverhead)), withFrame([]byte{1})}
			n, err := tt.from.Write(sent, Headroom)
			if n != 3 || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			bufs, sizes := frames(8, 1500)
			n, err = tt.to.Read(bufs, sizes, Headroom)
			if n != 3 || err != nil {
				t.Fatalf("Read = %d, %v", n, err)
			}
			for i := range n {
				got := bufs[i][Headroom : Headroom+sizes[i]]
				if !bytes.Equal(got, sent[i][Headroom:]) {
					t.Errorf("frame %d: got %d bytes %.16x, want %.16x", i, sizes[i], got, sent[i][Headroom:])
				}
			}
		})
	}
}

func TestPipeWriteCopies(t *testing.T) {
	a, b := NewPipe("p", 100)
	buf := withFrame([]byte("original"))
	a.Write([][]byte{buf}, Headroom)
	copy(buf[Headroom:], "CHANGED!") // the caller owns its buffer again
	bufs, sizes := frames(1, 100)
	b.Read(bufs, sizes, Headroom)
	if got := string(bufs[0][Headroom : Headroom+sizes[0]]); got != "original" {
		t.Fatalf("read %q: the pipe kept a reference to the written buffer", got)
	}
}

func TestPipeLimits(t *testing.T) {
	a, b := NewPipe("p", 100)
	n, err := a.Write([][]byte{withFrame(make([]byte, 10)), withFrame(make([]byte, 100+FrameOverhead+1))}, Headroom)
	if n != 1 || !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("oversize Write = %d, %v; want 1, ErrFrameTooLong", n, err)
	}
	// A full queue drops, like a real link, and never blocks the writer.
	for range PipeQueueLen + 10 {
		a.Write([][]byte{withFrame([]byte{1})}, Headroom)
	}
	if d := b.(*Pipe).Drops(); d != 11 { // the 10-byte frame above is queued too
		t.Errorf("Drops = %d, want 11", d)
	}
	// A buffer too short for the next frame: io.ErrShortBuffer, frame kept.
	small := [][]byte{make([]byte, Headroom+5)}
	if n, err := b.Read(small, make([]int, 1), Headroom); n != 0 || !errors.Is(err, io.ErrShortBuffer) {
		t.Errorf("short Read = %d, %v", n, err)
	}
	bufs, sizes := frames(PipeQueueLen+5, 100)
	if n, err := b.Read(bufs, sizes, Headroom); n != PipeQueueLen || err != nil || sizes[0] != 10 {
		t.Errorf("Read = %d (first %d bytes), %v; want the %d queued frames", n, sizes[0], err, PipeQueueLen)
	}
}

func TestPipeCloseUnblocksRead(t *testing.T) {
	a, b := NewPipe("p", 1500)
	done := make(chan error, 1)
	go func() {
		bufs, sizes := frames(1, 1500)
		_, err := a.Read(bufs, sizes, Headroom)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let Read block; the test passes either way
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := a.Write([][]byte{withFrame([]byte{1})}, Headroom); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write on closed end = %v", err)
	}
	// The peer stays open; what it sends to the closed end is dropped.
	if n, err := b.Write([][]byte{withFrame([]byte{1})}, Headroom); n != 1 || err != nil {
		t.Errorf("Write to closed peer = %d, %v", n, err)
	}
	if d := a.(*Pipe).Drops(); d != 1 {
		t.Errorf("Drops = %d, want 1", d)
	}
}

func TestPipeDoesNotAllocate(t *testing.T) {
	a, b := NewPipe("p", 1500)
	out := [][]byte{withFrame(make([]byte, 60)), withFrame(make([]byte, 1514))}
	bufs, sizes := frames(a.BatchSize(), 1500)
	allocs := testing.AllocsPerRun(1000, func() {
		a.Write(out, Headroom)
		b.Read(bufs, sizes, Headroom)
	})
	if allocs != 0 {
		t.Fatalf("Write+Read allocates %.1f times per run", allocs)
	}
}

func BenchmarkPipe(b *testing.B) {
	x, y := NewPipe("p", 1500)
	out := make([][]byte, 32)
	for i := range out {
		out[i] = withFrame(make([]byte, 1514))
	}
	bufs, sizes := frames(32, 1500)
	b.ReportAllocs()
	for b.Loop() {
		x.Write(out, Headroom)
		y.Read(bufs, sizes, Headroom)
	}
	b.ReportMetric(float64(b.N*32)/b.Elapsed().Seconds(), "frames/s")
}
