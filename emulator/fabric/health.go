package fabric

import (
	"fmt"
	"slices"
)

// ForceHealthFailure forces the health checks of a target (a name or an
// address) to fail, or clears that, on every GWLB node that checks it, or
// on node alone when it is set. It returns the nodes it changed. The
// checks themselves decide the target's health (gwlb.Node.ForceFail).
func (f *Fabric) ForceHealthFailure(target, node string, fail bool) ([]string, error) {
	var changed []string
	foundTarget, foundNode := false, node == ""
	for _, lb := range f.LBs() {
		t := lb.Target(target)
		for _, n := range lb.Nodes() {
			if node != "" && n.Name != node {
				continue
			}
			foundNode = true
			if t == nil || !slices.Contains(n.Candidates(), t) {
				continue
			}
			foundTarget = true
			n.ForceFail(t.Index(), fail)
			changed = append(changed, n.Name)
		}
	}
	switch {
	case !foundNode:
		return nil, fmt.Errorf("gwlb node %q: %w", node, ErrNotFound)
	case !foundTarget && node != "":
		return nil, fmt.Errorf("target %q: %w among the targets gwlb node %q checks", target, ErrNotFound, node)
	case !foundTarget:
		return nil, fmt.Errorf("target %q: %w in any target group", target, ErrNotFound)
	}
	return changed, nil
}
