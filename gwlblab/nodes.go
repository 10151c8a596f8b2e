package gwlblab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// NodeSpec says what node AddNode adds to the running lab (see gwlb-lab
// node add --help).
type NodeSpec struct {
	// Name of the new node: a valid name no node of the lab has.
	Name string
	// Subnet of its ENI; VPC only when several VPCs have a subnet of
	// that name.
	Subnet, VPC string
	// IP is its private IPv4 address; empty: the lowest free one.
	IP string
	// IPv6 is its IPv6 address in a dualstack subnet, or "auto"; empty:
	// none.
	IPv6 string
	// What runs in it: exactly one of Like (an existing instance's name:
	// run what it runs) and NodeYAML (one instance as the topology file
	// writes it; run.files are relative to the current directory).
	Like     string
	NodeYAML string
}

// AddNode adds a node to the running lab, as `gwlb-lab node add` does, and
// returns its entry of the lab's status. It is not a target of any GWLB
// until registered (Targets: register). Several may run at once.
func (l *Lab) AddNode(ctx context.Context, spec NodeSpec) (labapi.NodeStatus, error) {
	args := []string{"node", "add", spec.Name, "--name", l.name, "--json"}
	for _, f := range []struct{ flag, v string }{{"--subnet", spec.Subnet}, {"--vpc", spec.VPC}, {"--ip", spec.IP}, {"--ipv6", spec.IPv6}, {"--like", spec.Like}} {
		if f.v != "" {
			args = append(args, f.flag, f.v)
		}
	}
	var stdin io.Reader // nil: none
	if spec.NodeYAML != "" {
		args = append(args, "--file", "-")
		stdin = strings.NewReader(spec.NodeYAML)
	}
	res, err := l.run(ctx, stdin, args...)
	if err != nil {
		return labapi.NodeStatus{}, err
	}
	if err := res.Err(); err != nil {
		return labapi.NodeStatus{}, err
	}
	var ns labapi.NodeStatus
	if err := json.Unmarshal([]byte(res.Stdout), &ns); err != nil {
		return labapi.NodeStatus{}, fmt.Errorf("gwlb-lab node add --json: %w", err)
	}
	return ns, nil
}

// RemoveNode removes a node AddNode added, as `gwlb-lab node remove` does:
// refused while it is a registered target (deregister it first) or a
// route's target; nodes of the topology file are refused.
func (l *Lab) RemoveNode(ctx context.Context, name string) error {
	res, err := l.Run(ctx, "node", "remove", name, "--name", l.name)
	if err != nil {
		return err
	}
	return res.Err()
}
