package fabric

import (
	"fmt"
	"slices"
)

// ForceHealthFailure forces the health checks of a target (a name or an
// address) to fail, or clears that, on every GWLB node that checks it, or
// only on the nodes of load balancer lb, or on node, when they are set. It
// returns the nodes it changed. The checks themselves decide the target's
// health (gwlb.Node.ForceFail).
func (f *Fabric) ForceHealthFailure(lbName, target, node string, fail bool) ([]string, error) {
	if lbName != "" {
		if _, ok := f.rt.lbs[lbName]; !ok {
			return nil, fmt.Errorf("gwlb %q: %w", lbName, ErrNotFound)
		}
	}
	var changed []string
	foundTarget, foundNode := false, node == ""
	for _, lb := range f.LBs() {
		if lbName != "" && lb.Name != lbName {
			continue
		}
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
	case !foundNode && lbName != "":
		return nil, fmt.Errorf("gwlb node %q: %w in gwlb %q", node, ErrNotFound, lbName)
	case !foundNode:
		return nil, fmt.Errorf("gwlb node %q: %w", node, ErrNotFound)
	case !foundTarget && node != "":
		return nil, fmt.Errorf("target %q: %w among the targets gwlb node %q checks", target, ErrNotFound, node)
	case !foundTarget && lbName != "":
		return nil, fmt.Errorf("target %q: %w in the target group of gwlb %q", target, ErrNotFound, lbName)
	case !foundTarget:
		return nil, fmt.Errorf("target %q: %w in any target group", target, ErrNotFound)
	}
	return changed, nil
}
