package asg

import (
	"net/netip"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
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
	// The instance's times as wall-clock times (the next emulator's lab
	// clock starts afresh): its launch, its entry in InService (the
	// health check grace period runs from it) and the deadlines of the
	// hooks it waits for.
	Launched      time.Time            `json:"launched,omitzero"`
	InService     time.Time            `json:"in_service,omitzero"`
	HookDeadlines map[string]time.Time `json:"hook_deadlines,omitempty"`
}

// toWall is the wall-clock time of lab time t, now being the lab clock's
// present.
func (c *Controller) toWall(t, now time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return c.wall().Add(time.Duration(float64(t.Sub(now)) / c.scale)).Round(0)
}

// fromWall is the lab time of wall-clock time w; zero stays zero.
func (c *Controller) fromWall(w, now time.Time) time.Time {
	if w.IsZero() {
		return time.Time{}
	}
	return now.Add(time.Duration(float64(w.Sub(c.wall())) * c.scale))
}

// OnChange sets what the controller calls after a round or verb that
// changed a group (the daemon saves its edits); call it before Run.
func (c *Controller) OnChange(f func()) { c.onChange = f }

// Save returns every group's state.
func (c *Controller) Save() []Saved {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Saved
	now := c.clock.Now()
	for _, g := range c.groups {
		s := Saved{Name: g.cfg.Name, Desired: g.desired, Next: g.next}
		for _, i := range g.instances {
			si := SavedInstance{Name: i.name, N: i.n, Subnet: i.subnet, AZ: i.az, IP: addrString(i.ip),
				State: i.state, Reason: i.reason, NodeUp: i.nodeUp, Registered: i.registered, Deregistered: i.deregistered,
				Launched: c.toWall(i.launched, now), InService: c.toWall(i.inService, now)}
			if len(i.hooks) > 0 {
				si.HookDeadlines = map[string]time.Time{}
				for h, dl := range i.hooks {
					si.HookDeadlines[h] = c.toWall(dl, now)
				}
			}
			s.Instances = append(s.Instances, si)
		}
		out = append(out, s)
	}
	return out
}

// Restore takes back the state a previous emulator saved, for the groups
// that still exist. Waits go on where they were: an InService instance
// keeps the rest of its grace period, a waiting one its hooks' deadlines
// (the time the emulator was down counts, as it does for AWS), a
// Terminating one drains for the rest of its targets' deregistration
// delay (the balancer keeps those). A Pending one whose node was being
// made is launched again under a new number. State saved without times
// (by an older emulator) starts its waits again.
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
				nodeUp: si.NodeUp, registered: si.Registered, deregistered: si.Deregistered,
				launched: c.fromWall(si.Launched, now), inService: c.fromWall(si.InService, now)}
			if i.launched.IsZero() {
				i.launched = now
			}
			switch si.State {
			case api.LifecyclePending:
				if !i.nodeUp {
					continue // never made: the capacity check launches another
				}
				i.state = api.LifecyclePendingProceed
			case api.LifecyclePendingWait:
				i.hooks = c.restoreHooks(g, si, config.TransitionLaunching, now)
			case api.LifecycleInService:
				if i.inService.IsZero() {
					i.inService = now
				}
			case api.LifecycleTerminatingWait:
				i.hooks = c.restoreHooks(g, si, config.TransitionTerminating, now)
			}
			g.instances = append(g.instances, i)
			g.next = max(g.next, si.N+1)
		}
	}
}

// restoreHooks are the hooks a restored instance waits for: the saved
// deadlines of those the group still has, else every hook of the
// transition with its full timeout.
func (c *Controller) restoreHooks(g *group, si SavedInstance, transition string, now time.Time) map[string]time.Time {
	if len(si.HookDeadlines) == 0 {
		return g.hooksFor(transition, now)
	}
	out := map[string]time.Time{}
	for h, dl := range si.HookDeadlines {
		if g.hook(h).Transition == transition {
			out[h] = c.fromWall(dl, now)
		}
	}
	return out
}
