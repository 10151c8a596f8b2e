package fabric

import (
	"sync"
	"sync/atomic"
)

// subs is a set of subscribers that the data plane reads with one atomic
// load: the slice is replaced on every change, never modified.
type subs[T any] struct {
	mu   sync.Mutex // serialises add and remove
	list atomic.Pointer[[]*T]
}

func (c *subs[T]) load() []*T {
	if l := c.list.Load(); l != nil {
		return *l
	}
	return nil
}

func (c *subs[T]) add(s *T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := append(append([]*T(nil), c.load()...), s)
	c.list.Store(&next)
}

func (c *subs[T]) remove(s *T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next []*T
	for _, x := range c.load() {
		if x != s {
			next = append(next, x)
		}
	}
	if len(next) == 0 {
		c.list.Store(nil)
		return
	}
	c.list.Store(&next)
}
