package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"golang.org/x/sys/unix"
)

// Which lab owns what. Lab names share one namespace on the host: lab "a9"
// with node "fw-1" and lab "a9-fw" with node "1" both want gwlb-a9-fw-1,
// and every namespace of lab "a9-fw" starts with lab "a9"'s prefix. So a
// prefix never proves ownership; what a lab recorded in its state directory
// (state.json, resolved.json) does. `up` records its namespaces under an
// exclusive lock on the state root, after checking that no other lab
// records them, and `down` never removes a namespace another lab records.

// lockFile is the lock on the state root that makes "check that no other lab
// claims these names, then claim them" one step for concurrent `up`s, and
// keeps `down`'s choice of what to sweep from racing a claim.
const lockFile = ".lock"

// checkName refuses a lab name that is not valid, before anything builds a
// path from it: "..", ".", "" or "a/b" would put the state directory (and
// what `down` removes) outside the state root.
func checkName(name string) error {
	return topology.ValidateLabName(name)
}

// lockRoot takes the state root's lock, creating the root if needed, and
// returns its release. The kernel drops the lock if this process dies, so a
// killed `up` never leaves it held.
func (m *Manager) lockRoot() (func(), error) {
	if err := os.MkdirAll(m.opts.StateRoot, 0o700); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	return flock(filepath.Join(m.opts.StateRoot, lockFile))
}

// flock takes an exclusive flock on path, creating the file, and returns
// its release; the kernel drops it if this process dies.
func flock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// claims is what the other labs on the host record as theirs.
type claims struct {
	// owner maps a namespace to the lab that records it.
	owner map[string]string
	// labs are the other labs with a state directory, valid names only.
	labs []string
	// unreadable are the labs among labs whose records cannot be read: any
	// namespace under their prefix may be theirs.
	unreadable []string
}

// otherClaims reads every lab's records except lab self's.
func (m *Manager) otherClaims(self string) claims {
	c := claims{owner: map[string]string{}}
	entries, err := os.ReadDir(m.opts.StateRoot)
	if err != nil {
		return c
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == self || checkName(name) != nil {
			continue
		}
		c.labs = append(c.labs, name)
		p := Paths{Dir: filepath.Join(m.opts.StateRoot, name)}
		known := false
		if st, err := readState(p); err == nil {
			for _, n := range st.Namespaces {
				c.owner[n] = name
			}
			known = len(st.Namespaces) > 0
		}
		if l, err := readResolved(p); err == nil {
			for _, n := range l.Nodes {
				c.owner[n.Netns] = name
			}
			known = true
		}
		if !known {
			c.unreadable = append(c.unreadable, name)
		}
	}
	return c
}

// mayBelongTo names another lab that n may belong to though no lab records
// it: a lab whose prefix n has and whose records are unreadable, or any lab
// whose prefix is longer than self's (lab "a-b" for lab "a": is
// gwlb-a-b-x lab a's node "b-x" or lab a-b's node "x"? Only records can
// tell, so a sweep by prefix leaves it).
func (c claims) mayBelongTo(n, self string) (string, bool) {
	for _, other := range c.unreadable {
		if strings.HasPrefix(n, topology.ResourcePrefix(other)) {
			return other, true
		}
	}
	for _, other := range c.labs {
		if len(other) > len(self) && strings.HasPrefix(n, topology.ResourcePrefix(other)) {
			return other, true
		}
	}
	return "", false
}

// sweepNamespaces chooses the namespaces `down` removes for lab name: the
// ones its state file and resolved topology record, or, when it has neither
// (a crash before they were written, or a state directory already gone),
// every namespace with its prefix. Either way it leaves out every namespace
// another lab records, and from the prefix sweep every namespace that may be
// another lab's.
func (m *Manager) sweepNamespaces(ctx context.Context, name string, st *State, p Paths) ([]string, error) {
	unlock, err := m.lockRoot()
	if err != nil {
		return nil, err
	}
	defer unlock()
	others := m.otherClaims(name)
	want := map[string]bool{}
	if st != nil {
		for _, n := range st.Namespaces {
			want[n] = true
		}
	}
	var errs []error
	if l, err := readResolved(p); err == nil {
		for _, n := range l.Nodes {
			want[n.Netns] = true
		}
	} else {
		left, err := m.backend.List(ctx, topology.ResourcePrefix(name))
		if err != nil {
			errs = append(errs, err)
		}
		for _, n := range left {
			if _, theirs := others.mayBelongTo(n, name); !theirs {
				want[n] = true
			}
		}
	}
	var list []string
	for n := range want {
		if owner, ok := others.owner[n]; ok {
			m.progress("leaving namespace %s: it belongs to lab %s", n, owner)
			continue
		}
		list = append(list, n)
	}
	sort.Strings(list)
	return list, errors.Join(errs...)
}

// claim makes lab l's state directory and records what l will make in it,
// under the state root's lock: it fails if the lab exists, if another lab
// records one of l's namespaces, or if one of them is left from an earlier
// run. Of two `up`s of one name exactly one claims it; the other has made
// nothing and removes nothing.
func (m *Manager) claim(ctx context.Context, l *topology.Lab, p Paths, st *State) error {
	unlock, err := m.lockRoot()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Lstat(p.Dir); err == nil {
		if _, err := os.Stat(p.State()); err == nil {
			return fmt.Errorf("lab %q: %w (bring it down first: gwlb-lab down --name %s)", l.Name, ErrExists, l.Name)
		}
		return fmt.Errorf("lab %q: %w: its state directory %s is left from an earlier run (gwlb-lab down --name %s removes it)", l.Name, ErrExists, p.Dir, l.Name)
	}
	others := m.otherClaims(l.Name)
	for _, n := range l.Nodes {
		if owner, ok := others.owner[n.Netns]; ok {
			return fmt.Errorf("lab %q: namespace %q of node %q belongs to lab %q: %w (pick another lab name)", l.Name, n.Netns, n.Name, owner, ErrNameTaken)
		}
	}
	left, err := m.backend.List(ctx, l.Prefix)
	if err != nil {
		return err
	}
	for _, n := range left {
		if !m.ownedBy(n, l) {
			continue
		}
		if other, ok := others.mayBelongTo(n, l.Name); ok {
			return fmt.Errorf("lab %q: namespace %q exists and may belong to lab %q: %w (pick another lab name)", l.Name, n, other, ErrNameTaken)
		}
		return fmt.Errorf("lab %q: %w: namespace %q is left from an earlier run (gwlb-lab down --name %s removes it)", l.Name, ErrExists, n, l.Name)
	}
	if err := os.Mkdir(p.Dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("lab %q: %w", l.Name, ErrExists)
		}
		return fmt.Errorf("state directory: %w", err)
	}
	// The directory is ours from here; if recording fails, nothing else
	// was made, so take it back rather than leave a half-claimed lab.
	err = os.Mkdir(filepath.Join(p.Dir, "logs"), 0o700)
	if err == nil {
		err = writeState(p, st)
	}
	if err == nil {
		err = writeJSON(p.Resolved(), l)
	}
	if err != nil {
		_ = os.RemoveAll(p.Dir)
		return fmt.Errorf("lab %q: record its state: %w", l.Name, err)
	}
	return nil
}
