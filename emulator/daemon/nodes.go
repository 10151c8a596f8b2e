package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
)

// nodeHandlers registers the control API of nodes added at run time.
func (d *Daemon) nodeHandlers(s *control.Server) {
	s.Handle("GET "+api.PathNodes, func(*http.Request) (any, error) {
		out := []api.Node{}
		for _, n := range d.fabric.AddedNodes() {
			out = append(out, nodeOut(n))
		}
		return out, nil
	})
	s.Handle("POST "+api.PathNodes, func(r *http.Request) (any, error) {
		var in api.Node
		if err := control.Decode(r, &in); err != nil {
			return nil, err
		}
		n, err := d.addNode(in)
		if err != nil {
			return nil, err
		}
		if err := d.saveEdits(); err != nil {
			return nil, err
		}
		return n, nil
	})
	s.Handle("DELETE "+api.PathNodes+"/{name}", func(r *http.Request) (any, error) {
		name := r.PathValue("name")
		if err := d.removeNode(name); err != nil {
			return nil, err
		}
		if err := d.saveEdits(); err != nil {
			return nil, err
		}
		return api.NodeRemoved{Name: name}, nil
	})
}

// addNode opens the node's TAP and adds it to the fabric.
func (d *Daemon) addNode(in api.Node) (api.Node, error) {
	n, err := d.nodeIn(in)
	if err != nil {
		return api.Node{}, control.BadRequest(err)
	}
	if _, err := os.Stat(n.ENI.NetNS); err != nil {
		return api.Node{}, control.BadRequest(fmt.Errorf("network namespace %s: %w (make the namespace and its TAP first)", n.ENI.NetNS, err))
	}
	open := n.ENI
	if open.MTU == 0 {
		open.MTU = d.defaultENI().MTU
	}
	p, err := d.open(open)
	if err != nil {
		return api.Node{}, control.BadRequest(fmt.Errorf("open port of node %q: %w", n.ENI.Node, err))
	}
	if err := d.fabric.AddNode(n, p); err != nil { // closes p on error
		return api.Node{}, apiError(err)
	}
	d.portsMu.Lock()
	d.ports = append(d.ports, portOut(n.ENI))
	d.portsMu.Unlock()
	d.events.add(api.Event{Kind: api.EventNodeAdd, Node: n.ENI.Node,
		Detail: fmt.Sprintf("%s in subnet %s of vpc %s", n.ENI.IP, n.Subnet, n.VPC)})
	for _, a := range d.fabric.AddedNodes() {
		if a.ENI.Node == n.ENI.Node {
			return nodeOut(a), nil
		}
	}
	return nodeOut(n), nil
}

// removeNode removes a node added at run time, unless a target group
// still has it registered.
func (d *Daemon) removeNode(name string) error {
	i := slices.IndexFunc(d.fabric.AddedNodes(), func(a fabric.AddedNode) bool { return a.ENI.Node == name })
	if i >= 0 {
		ip := d.fabric.AddedNodes()[i].ENI.IP
		for _, lb := range d.fabric.LBs() {
			for _, t := range lb.Targets() {
				if t.IP == ip && lb.Registered(t) {
					return control.BadRequest(fmt.Errorf("node %q is a registered target of gwlb %q: deregister it first", name, lb.Name))
				}
			}
		}
	}
	if err := d.fabric.RemoveNode(name); err != nil {
		return apiError(err)
	}
	d.portsMu.Lock()
	d.ports = slices.DeleteFunc(d.ports, func(p api.Port) bool { return p.Node == name })
	d.portsMu.Unlock()
	d.events.add(api.Event{Kind: api.EventNodeRemove, Node: name})
	return nil
}

// nodeIn reads a node of the API; the fabric checks the rest.
func (d *Daemon) nodeIn(in api.Node) (fabric.AddedNode, error) {
	n := fabric.AddedNode{VPC: in.VPC, Subnet: in.Subnet}
	e := config.ENI{Node: in.Name, NetNS: in.NetNS, Interface: in.Interface, MTU: in.MTU, SourceDestCheck: true, UDPCoalesce: in.UDPCoalesce}
	if in.Name == "" {
		return n, errors.New("a node name is required")
	}
	if e.Interface == "" {
		e.Interface = d.defaultENI().Interface
	}
	if in.SourceDestCheck != nil {
		e.SourceDestCheck = *in.SourceDestCheck
	}
	if in.NetNS == "" {
		return n, fmt.Errorf("node %q: netns, the path of its network namespace, is required", in.Name)
	}
	if in.MTU != 0 && in.MTU < 68 {
		return n, fmt.Errorf("node %q: MTU %d is below 68", in.Name, in.MTU)
	}
	var err error
	if e.IP, err = netip.ParseAddr(in.IP); err != nil {
		return n, fmt.Errorf("node %q: ip %q is not an address", in.Name, in.IP)
	}
	if in.IPv6 != "" {
		if e.IPv6, err = netip.ParseAddr(in.IPv6); err != nil {
			return n, fmt.Errorf("node %q: ipv6 %q is not an address", in.Name, in.IPv6)
		}
	}
	if e.MAC, err = config.ParseMAC(in.MAC); err != nil {
		return n, fmt.Errorf("node %q: %w", in.Name, err)
	}
	n.ENI = e
	return n, nil
}

// defaultENI is the first ENI of the configuration: a new node's
// interface is named like it, and its port opened with its MTU when the
// request sets none (a TAP reports its own).
func (d *Daemon) defaultENI() config.ENI {
	if all := d.snap.AllENIs(); len(all) > 0 {
		return all[0]
	}
	return config.ENI{Interface: "eth0", MTU: 1500}
}

func nodeOut(n fabric.AddedNode) api.Node {
	sdc := n.ENI.SourceDestCheck
	out := api.Node{Name: n.ENI.Node, VPC: n.VPC, Subnet: n.Subnet, IP: n.ENI.IP.String(), MAC: n.ENI.MAC.String(),
		NetNS: n.ENI.NetNS, Interface: n.ENI.Interface, MTU: n.ENI.MTU, SourceDestCheck: &sdc, UDPCoalesce: n.ENI.UDPCoalesce}
	if n.ENI.IPv6.IsValid() {
		out.IPv6 = n.ENI.IPv6.String()
	}
	return out
}

func portOut(e config.ENI) api.Port {
	return api.Port{Node: e.Node, NetNS: e.NetNS, Interface: e.Interface, MAC: e.MAC.String(), IP: e.IP.String()}
}
