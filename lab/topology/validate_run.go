package topology

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Rules of what runs in nodes.

func (c *checker) checkRuns() {
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		ip := childPath(childPath("vpcs", vn), "instances")
		for _, n := range keys(c, ip, c.t.VPCs[vn].Instances) {
			if r := c.t.VPCs[vn].Instances[n].Run; r != nil {
				c.checkRun(childPath(childPath(ip, n), "run"), r)
			}
			c.checkContainer(childPath(childPath(ip, n), "container"), c.t.VPCs[vn].Instances[n].Container)
			c.checkTunnelContainer(childPath(ip, n), c.t.VPCs[vn].Instances[n].Run, c.t.VPCs[vn].Instances[n].Container)
		}
	}
	for _, n := range keys(c, "internet.hosts", c.t.Internet.Hosts) {
		if r := c.t.Internet.Hosts[n].Run; r != nil {
			c.checkRun(childPath(childPath("internet.hosts", n), "run"), r)
		}
		c.checkContainer(childPath(childPath("internet.hosts", n), "container"), c.t.Internet.Hosts[n].Container)
	}
}

// checkTunnelContainer warns of a tunnel-mode appliance in a container that
// cannot make its TUN devices.
func (c *checker) checkTunnelContainer(p string, r *RunSpec, ct *ContainerSpec) {
	if r == nil || r.Appliance == nil || r.Appliance.Mode != string(ApplianceTunnel) || ct == nil {
		return
	}
	if !slices.ContainsFunc(ct.CapAdd, func(s string) bool { return strings.TrimPrefix(strings.ToUpper(s), "CAP_") == "NET_ADMIN" }) ||
		!slices.ContainsFunc(ct.Devices, func(s string) bool { return strings.HasPrefix(s, "/dev/net/tun") }) {
		c.warnf("", childPath(p, "container"), "", "an appliance in mode tunnel makes TUN devices: the container needs cap_add: [NET_ADMIN] and devices: [/dev/net/tun] (and an image with sh for its hook)")
	}
}

// checkContainer checks a node's container section; Docker checks the
// rest (image names, capability names) when the lab comes up.
func (c *checker) checkContainer(p string, ct *ContainerSpec) {
	if ct == nil {
		return
	}
	if strings.TrimSpace(ct.Image) == "" {
		c.errorf(p, "image", "image is required: a container node runs a local image (make images builds gwlb-lab:latest)")
	}
	for _, k := range slices.Sorted(maps.Keys(ct.Sysctls)) {
		kp := childPath(childPath(p, "sysctls"), k)
		switch v := ct.Sysctls[k]; {
		case !sysctlKey.MatchString(k):
			c.errorf(kp, "", "sysctls: %q is not a network sysctl: only net.* keys are set, in the node's own namespace (e.g. net.ipv4.ip_forward)", k)
		case v == "" || strings.ContainsAny(v, "\n\x00"):
			c.errorf(kp, "", "sysctls: %q needs a value on one line", k)
		}
	}
}

// sysctlKey is a network sysctl's dotted name: the part of /proc/sys that
// belongs to a network namespace.
var sysctlKey = regexp.MustCompile(`^net(\.[A-Za-z0-9_-]+)+$`)

func (c *checker) checkRun(p string, r *RunSpec) {
	var set []string
	if r.HTTPEcho != nil {
		set = append(set, "http_echo")
	}
	if r.Command != nil {
		set = append(set, "command")
	}
	if r.Appliance != nil {
		set = append(set, "appliance")
	}
	if r.Reflector != nil {
		set = append(set, "reflector")
	}
	if len(set) != 1 {
		got := "none"
		if len(set) > 0 {
			got = strings.Join(set, " and ")
		}
		c.errorf(p, "", "run must set exactly one of http_echo, command, appliance, reflector (it sets %s)", got)
		return
	}
	c.enum(p, "restart", r.Restart, RestartNever, RestartOnFailure, RestartAlways)
	for dest, src := range r.Files {
		fp := childPath(childPath(p, "files"), dest)
		switch {
		case dest == "" || strings.HasSuffix(dest, "/") || strings.Contains(dest, "=") || slices.Contains(strings.Split(filepath.ToSlash(dest), "/"), ".."):
			c.errorf(fp, "", "files: destination %q must name a file, without \"..\" or \"=\"", dest)
		case src == "":
			c.errorf(fp, "", "files: %q has no source", dest)
		}
	}
	if rs := r.Ready; rs != nil {
		rp := childPath(p, "ready")
		switch {
		case (rs.TCP == nil) == (rs.Command == nil):
			c.errorf(rp, "", "ready must set exactly one of tcp and command")
		case rs.TCP != nil:
			c.port(rp, "tcp", rs.TCP)
		case len(rs.Command) == 0 || rs.Command[0] == "":
			c.errorf(rp, "command", "command needs at least the program to run")
		}
		if rs.Timeout != nil && (*rs.Timeout < 1 || *rs.Timeout > 3600) {
			c.errorf(rp, "timeout", "timeout %d is outside 1-3600 seconds", *rs.Timeout)
		}
	}
	switch {
	case r.HTTPEcho != nil:
		c.port(childPath(p, "http_echo"), "port", r.HTTPEcho.Port)
	case r.Command != nil:
		if len(r.Command) == 0 || r.Command[0] == "" {
			c.errorf(p, "command", "command needs at least the program to run")
		}
	case r.Reflector != nil:
		c.port(childPath(p, "reflector"), "health_port", r.Reflector.HealthPort)
	case r.Appliance != nil:
		c.checkAppliance(childPath(p, "appliance"), r.Appliance)
	}
}

func (c *checker) checkAppliance(p string, a *ApplianceSpec) {
	c.enum(p, "mode", a.Mode, string(ApplianceForward), string(ApplianceFirewall), string(ApplianceTunnel))
	switch {
	case a.Hook != "" && a.Mode != string(ApplianceTunnel):
		c.errorf(p, "hook", "hook needs mode tunnel")
	case strings.ContainsAny(a.Hook, "\x00\n"):
		c.errorf(p, "hook", "hook must be one line")
	}
	c.port(p, "health_port", a.HealthPort)
	c.bounded(p, "flow_log_max_bytes", a.FlowLogMaxBytes, minFlowLogMaxBytes, maxFlowLogMaxBytes)
	if a.FlowLogMaxBytes != nil && !a.FlowLog {
		c.errorf(p, "flow_log_max_bytes", "flow_log_max_bytes needs flow_log: true")
	}
	firewall := a.Mode == string(ApplianceFirewall)
	if !firewall && len(a.Rules) > 0 {
		c.errorf(p, "rules", "rules need mode firewall")
	}
	if c.enum(p, "default_action", a.DefaultAction, "allow", "deny") && !firewall && a.DefaultAction != "" {
		c.errorf(p, "default_action", "default_action needs mode firewall")
	}
	rp := childPath(p, "rules")
	for i, r := range a.Rules {
		ip := indexPath(rp, i)
		if r.Action == "" {
			c.errorf(ip, "action", "action is required")
		}
		c.enum(ip, "action", r.Action, "allow", "deny")
		if r.CIDR != "" {
			c.parsePrefix(ip, "cidr", "cidr", r.CIDR)
		}
		c.enum(ip, "protocol", r.Protocol, "tcp", "udp", "icmp", "any")
		switch {
		case r.Port < 0 || r.Port > 65535:
			c.errorf(ip, "port", "port %d is not a port number (1-65535)", r.Port)
		case r.Port != 0 && r.Protocol != "tcp" && r.Protocol != "udp":
			c.errorf(ip, "port", "port needs protocol tcp or udp")
		}
	}
	if m := a.Misbehave; m != nil {
		mp := childPath(p, "misbehave")
		if m.StripOption < 0 || m.StripOption > 3 {
			c.errorf(mp, "strip_option", "strip_option %d is not an AWS option type (1, 2 or 3)", m.StripOption)
		}
		if m.VNI < 0 || m.VNI > 1<<24-1 {
			c.errorf(mp, "vni", "vni %d is not a 24-bit VNI", m.VNI)
		}
		if m.ReplyFromPort < 0 || m.ReplyFromPort > 65535 {
			c.errorf(mp, "reply_from_port", "reply_from_port %d is not a port number (1-65535)", m.ReplyFromPort)
		}
		if m.HealthDelayMS < 0 || m.HealthDelayMS > 60000 {
			c.errorf(mp, "health_delay_ms", "health_delay_ms %d is outside 0-60000", m.HealthDelayMS)
		}
	}
}
