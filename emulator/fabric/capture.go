package fabric

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Frame is one captured frame of a node's port.
type Frame struct {
	Time time.Time
	// ToNode is true for frames the emulator wrote to the node, false for
	// frames the node sent.
	ToNode bool
	Data   []byte
}

// capture is one subscriber to a port's frames.
type capture struct {
	ch      chan Frame
	dropped atomic.Uint64
}

// captures are a port's subscribers.
type captures struct{ subs[capture] }

// tap hands a copy of frame to every subscriber that has room. It costs one
// atomic load when nobody captures; copies are made only for captures.
func (c *captures) tap(frame []byte, toNode bool) {
	list := c.load()
	if list == nil {
		return
	}
	now := time.Now()
	for _, s := range list {
		select {
		case s.ch <- Frame{Time: now, ToNode: toNode, Data: append([]byte(nil), frame...)}:
		default:
			s.dropped.Add(1)
		}
	}
}

// Capture delivers the frames of a node's port, both directions, until ctx
// ends. Frames that arrive while the reader is behind by more than buffer
// frames are dropped and counted (dropped reports how many); the data plane
// never waits for a capture.
func (f *Fabric) Capture(ctx context.Context, node string, buffer int) (frames <-chan Frame, dropped func() uint64, err error) {
	ps, ok := f.portMap()[node]
	if !ok {
		return nil, nil, fmt.Errorf("node %q: %w", node, ErrNotFound)
	}
	s := &capture{ch: make(chan Frame, max(buffer, 1))}
	ps.caps.add(s)
	context.AfterFunc(ctx, func() { ps.caps.remove(s) })
	return s.ch, s.dropped.Load, nil
}
