package appliance

import (
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// RotatedSuffix names the previous generation of a rotated log: a log
// "x.flows.jsonl" keeps at most "x.flows.jsonl.1" besides itself.
const RotatedSuffix = labapi.RotatedSuffix

// RotatingFile is an append-only log file with a size cap: when a write
// would take the file past the cap, the file is renamed to its name plus
// RotatedSuffix (replacing the previous one) and a new file is started. The
// log thus takes at most twice the cap on disk (flow logs live in /run,
// which is RAM). Each Write goes whole into one file, so a record written
// with one Write (a JSON line) is never split across the two. Safe for
// concurrent use.
type RotatingFile struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

// OpenRotating opens (or creates) the log at path for appending, with a cap
// of maxBytes.
func OpenRotating(path string, maxBytes int64) (*RotatingFile, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("log %q: size cap %d is not positive", path, maxBytes)
	}
	r := &RotatingFile{path: path, max: maxBytes}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p, rotating first if p would not fit under the cap. A
// record larger than the cap gets a file of its own.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fs.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("rotate log %q: %w", r.path, err)
	}
	r.f = nil
	if err := os.Rename(r.path, r.path+RotatedSuffix); err != nil {
		return fmt.Errorf("rotate log %q: %w", r.path, err)
	}
	if err := r.open(); err != nil {
		return fmt.Errorf("rotate log %q: %w", r.path, err)
	}
	return nil
}

// Close closes the file; later writes fail.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// ReadFlowLog reads a flow log written through a RotatingFile (see
// labapi.ReadFlowLog, which keeps the reading with the record's type).
func ReadFlowLog(path string) ([]FlowRecord, error) { return labapi.ReadFlowLog(path) }
