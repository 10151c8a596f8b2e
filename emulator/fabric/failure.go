package fabric

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// portFailure is what went wrong with one port: writes the port refused
// (the frames are also counted as port_write_failed drops) and the error
// that ended its read loop, after which nothing the node sends arrives.
// Each kind is logged once per port, not per frame, and shown with the
// port's counters so that a broken port is not a silent black hole.
type portFailure struct {
	writeErrs  atomic.Uint64
	mu         sync.Mutex
	firstWrite string // the first write error, "" before one
	read       string // why reading stopped, "" while it runs
}

// writeFailed counts a failed write to ps and logs the first one. After the
// first failure it costs one atomic add and one load: nothing allocates.
func (f *Fabric) writeFailed(ps *portState, err error) {
	if ps.fail.writeErrs.Add(1) != 1 {
		return
	}
	msg := err.Error()
	ps.fail.mu.Lock()
	ps.fail.firstWrite = msg
	ps.fail.mu.Unlock()
	f.log.Error("writes to a node's port fail; frames for it are dropped (counted as port_write_failed, further failures are not logged)",
		"node", ps.node, "port", ps.p.Name(), "error", msg)
}

// readFailed records and logs that ps's read loop ended with err. The line
// is logged before the error shows in the counters, so whoever sees one
// finds the other.
func (f *Fabric) readFailed(ps *portState, err error) {
	msg := err.Error()
	ps.fail.mu.Lock()
	defer ps.fail.mu.Unlock()
	if ps.fail.read != "" {
		return
	}
	f.log.Error("reading a node's port failed; nothing the node sends is forwarded until the emulator restarts",
		"node", ps.node, "port", ps.p.Name(), "error", msg)
	ps.fail.read = msg
}

// report fills pc's failure fields.
func (p *portFailure) report(pc *api.PortCounters) {
	pc.WriteErrors = p.writeErrs.Load()
	p.mu.Lock()
	pc.WriteError, pc.ReadError = p.firstWrite, p.read
	p.mu.Unlock()
}

// SetLog sets where port failures are reported (as Options.Log does); call
// it before Run.
func (f *Fabric) SetLog(l *slog.Logger) {
	if l != nil {
		f.log = l
	}
}
