package asg

import (
	"net/netip"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// Saved is a group's state as the emulator keeps it with its runtime
// edits, so that the next emulator of the lab (emulator restart) goes on
// with the same instances, numbers and capacity.
type Saved struct {
	Name      string          `json:"name"`
	Desired   int             `json:"desired"`
	Next      int             `json:"next"`
	Instances []SavedInstance `json:"instances,omitempty"`
}

// SavedInstance is one live instance of a saved group.
type SavedInstance struct {
	Name         string `json:"name"`
	N            int    `json:"n"`
	Subnet       string `json:"subnet"`
	AZ           string `json:"az"`
	IP           string `json:"ip,omitempty"`
	State        string `json:"state"`
	Reason       string `json:"reason,omitempty"`
	NodeUp       bool   `json:"node_up,omitempty"`
	Registered   bool   `json:"registered,omitempty"`
	Deregistered bool   `json:"deregistered,omitempty"`
}

// OnChange sets what the controller calls after a round or verb that
// changed a group (the daemon saves its edits); call it before Run.
func (c *Controller) OnChange(f func()) { c.onChange = f }

// Save returns every group's state.
func (c *Controller) Save() []Saved {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Saved
	for _, g := range c.groups {
		s := Saved{Name: g.cfg.Name, Desired: g.desired, Next: g.next}
		for _, i := range g.instances {
			s.Instances = append(s.Instances, SavedInstance{Name: i.name, N: i.n, Subnet: i.subnet, AZ: i.az, IP: addrString(i.ip),
				State: i.state, Reason: i.reason, NodeUp: i.nodeUp, Registered: i.registered, Deregistered: i.deregistered})
		}
		out = append(out, s)
	}
	return out
}

// Restore takes back the state a previous emulator saved, for the groups
// that still exist. Waits start again: an InService instance gets a new
// grace period, a waiting one its hooks' full timeouts, a Pending one
// whose node was being made is launched again under a new number.
func (c *Controller) Restore(saved []Saved) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	for _, s := range saved {
		g, err := c.group(s.Name)
		if err != nil {
			continue
		}
		if s.Desired >= g.cfg.Min && s.Desired <= g.cfg.Max {
			g.desired = s.Desired
		}
		g.next = max(g.next, s.Next)
		g.instances = nil
		for _, si := range s.Instances {
			ip, _ := netip.ParseAddr(si.IP)
			i := &instance{name: si.Name, n: si.N, subnet: si.Subnet, az: si.AZ, ip: ip, state: si.State, reason: si.Reason,
				nodeUp: si.NodeUp, registered: si.Registered, deregistered: si.Deregistered, launched: now}
			switch si.State {
			case api.LifecyclePending:
				if !i.nodeUp {
					continue // never made: the capacity check launches another
				}
				i.state = api.LifecyclePendingProceed
			case api.LifecyclePendingWait:
				i.hooks = g.hooksFor("launching", now)
			case api.LifecycleInService:
				i.inService = now
			case api.LifecycleTerminatingWait:
				i.hooks = g.hooksFor("terminating", now)
			}
			g.instances = append(g.instances, i)
			g.next = max(g.next, si.N+1)
		}
	}
}
