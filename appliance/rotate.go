package appliance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// RotatedSuffix names the previous generation of a rotated log: a log
// "x.flows.jsonl" keeps at most "x.flows.jsonl.1" besides itself.
const RotatedSuffix = ".1"

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

// ReadFlowLog reads a flow log written through a RotatingFile: the rotated
// generation, then the current one, oldest record first. A log that does
// not exist is empty. It may run while the appliance writes: a rotation
// between its two reads is recognised (the rotated file then starts with
// what the current one held) and the records are not doubled; the few
// written after such a rotation are left for the next read. A last line
// still being written is skipped.
func ReadFlowLog(path string) ([]FlowRecord, error) {
	cur, err := readIfExists(path)
	if err != nil {
		return nil, err
	}
	old, err := readIfExists(path + RotatedSuffix)
	if err != nil {
		return nil, err
	}
	all := append(old, cur...)
	if len(cur) > 0 && bytes.HasPrefix(old, cur) {
		all = old // rotated between the two reads
	}
	all = all[:bytes.LastIndexByte(all, '\n')+1] // a last line being written waits
	var out []FlowRecord
	sc := bufio.NewScanner(bytes.NewReader(all))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec FlowRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("flow log %q: %w", path, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

func readIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
