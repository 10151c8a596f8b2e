package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/asg"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
)

// The emulator runs the lab's Auto Scaling groups (spec §13): the
// controller of emulator/asg, with the daemon as its balancer and an
// actuator the lab gives (SetActuator) to make and remove nodes.

// noActuator is the actuator of an emulator that was given none: groups
// cannot launch, and say so.
type noActuator struct{}

func (noActuator) Launch(group, inst, subnet string) (netip.Addr, error) {
	return netip.Addr{}, errors.New("this emulator cannot make nodes (it was started without the lab's actuator)")
}
func (noActuator) Terminate(group, inst string) error {
	return errors.New("this emulator cannot remove nodes (it was started without the lab's actuator)")
}
func (noActuator) Alive(string) bool { return true }

// swapActuator lets SetActuator replace the actuator the controller was
// made with.
type swapActuator struct{ a atomic.Pointer[asg.Actuator] }

func (s *swapActuator) get() asg.Actuator { return *s.a.Load() }

func (s *swapActuator) Launch(g, i, sn string) (netip.Addr, error) { return s.get().Launch(g, i, sn) }
func (s *swapActuator) Terminate(g, i string) error                { return s.get().Terminate(g, i) }
func (s *swapActuator) Alive(i string) bool                        { return s.get().Alive(i) }

// newASG makes the controller of the snapshot's groups, or nil.
func (d *Daemon) newASG() {
	if len(d.snap.AutoScalingGroups) == 0 {
		return
	}
	d.actuator = &swapActuator{}
	var none asg.Actuator = noActuator{}
	d.actuator.a.Store(&none)
	d.asg = asg.New(d.snap.AutoScalingGroups, d.clock, d.actuator, asgBalancer{d}, d.events.add)
	d.asg.OnChange(func() {
		if err := d.saveEdits(); err != nil && d.log != nil {
			d.log.Warn("auto scaling state not kept", "err", err)
		}
	})
}

// SetActuator gives the Auto Scaling groups what makes and removes their
// nodes.
func (d *Daemon) SetActuator(a asg.Actuator) {
	if d.actuator != nil {
		d.actuator.a.Store(&a)
	}
}

// ASG returns the Auto Scaling controller (nil when the lab has no group).
func (d *Daemon) ASG() *asg.Controller { return d.asg }

// asgInterval is how often the controller runs: each lab second, but not
// more often than every 50 ms of wall time nor less often than every wall
// second (a slow lab clock still answers set-desired at once).
func (d *Daemon) asgInterval() time.Duration {
	return min(max(d.clock.Wall(time.Second), 50*time.Millisecond), time.Second)
}

// asgBalancer is the daemon as the controller's balancer.
type asgBalancer struct{ d *Daemon }

func (b asgBalancer) lb(name string) (*gwlb.LB, error) { return b.d.chooseLB(name) }

func (b asgBalancer) Register(gwlbName, inst string) error {
	lb, err := b.lb(gwlbName)
	if err != nil {
		return err
	}
	name := inst
	if lb.TargetType() == "ip" {
		in, err := b.d.findInstance(inst)
		if err != nil {
			return err
		}
		name = in.eni.IP.String()
	}
	_, err = b.d.register(name, gwlbName)
	return err
}

func (b asgBalancer) Deregister(gwlbName, inst string) error {
	_, err := b.d.deregister(inst, gwlbName)
	return err
}

func (b asgBalancer) TargetState(gwlbName, inst string) string {
	lb, err := b.lb(gwlbName)
	if err != nil {
		return ""
	}
	t := lb.Target(inst)
	if t == nil {
		return ""
	}
	now := b.d.clock.Now()
	if !lb.Registered(t) {
		if lb.Draining(t, now) {
			return api.TargetDraining
		}
		return ""
	}
	seen, healthy := 0, 0
	for _, n := range lb.Nodes() {
		for _, c := range n.Candidates() {
			if c != t {
				continue
			}
			seen++
			switch n.State(t.Index()).String() {
			case "unhealthy":
				return "unhealthy"
			case "healthy":
				healthy++
			}
		}
	}
	switch {
	case seen == 0:
		return api.TargetUnused
	case healthy == seen:
		return "healthy"
	}
	return api.TargetInitial
}

func (b asgBalancer) Metrics(gwlbName string) (int, uint64) {
	lb, err := b.lb(gwlbName)
	if err != nil {
		return 0, 0
	}
	now := b.d.clock.Now()
	active, flows := 0, uint64(0)
	for _, n := range lb.Nodes() {
		m := n.Metrics(now)
		active += m.ActiveFlowCount
		flows += m.NewFlowCount
	}
	return active, flows
}

// asgError maps the controller's errors to the control socket's.
func asgError(err error) error {
	switch {
	case errors.Is(err, asg.ErrNotFound):
		return control.NotFound(err)
	case errors.Is(err, asg.ErrInvalid):
		return control.BadRequest(err)
	}
	return err
}

func (d *Daemon) asgHandlers(s *control.Server) {
	s.Handle("GET "+api.PathASGs, func(*http.Request) (any, error) {
		if d.asg == nil {
			return []api.ASG{}, nil
		}
		return d.asg.Describe(), nil
	})
	one := func(name string) (any, error) {
		for _, g := range d.asg.Describe() {
			if g.Name == name {
				return g, nil
			}
		}
		return nil, control.NotFound(fmt.Errorf("no auto scaling group %q", name))
	}
	none := func() error {
		return control.NotFound(fmt.Errorf("lab %q has no auto scaling group (autoscaling_groups in the topology file)", d.snap.Lab))
	}
	s.Handle("POST /v1/asgs/{name}/desired", func(r *http.Request) (any, error) {
		var in api.DesiredRequest
		if err := control.Decode(r, &in); err != nil {
			return nil, err
		}
		if d.asg == nil {
			return nil, none()
		}
		if err := d.asg.SetDesired(r.PathValue("name"), in.Desired); err != nil {
			return nil, asgError(err)
		}
		return one(r.PathValue("name"))
	})
	s.Handle("POST /v1/asgs/{name}/lifecycle-action", func(r *http.Request) (any, error) {
		var in api.LifecycleActionRequest
		if err := control.Decode(r, &in); err != nil {
			return nil, err
		}
		if d.asg == nil {
			return nil, none()
		}
		if err := d.asg.CompleteLifecycleAction(r.PathValue("name"), in.Instance, in.Hook, in.Result); err != nil {
			return nil, asgError(err)
		}
		return one(r.PathValue("name"))
	})
}
