package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/spf13/cobra"
)

func newApplianceCmd(env Env) *cobra.Command {
	var (
		cfgPath    string
		flowLog    string
		spec       topology.Appliance
		tcpTimeout time.Duration
		gwlbNodes  []net.IP
		statsFile  string
	)
	cmd := &cobra.Command{
		Use:   "appliance [--config FILE] [flags]",
		Short: "Run the reference GWLB appliance (inside a lab node)",
		Long: `Run the reference appliance: receive GENEVE on UDP 6081, pass or drop each inner
packet (mode forward, or a stateful firewall), and return it to the GWLB node
with the GENEVE header echoed byte for byte, from the GWLB's outer source port.
In mode tunnel it hands each inner packet to the kernel instead, through a pair
of TUN devices per GWLB endpoint (gwi-X in, gwo-X out, as AWS's gwlbtun names
them; made on the endpoint's first packet, after which --hook runs through sh
with CREATE, the two devices and the endpoint id appended), and returns what the
kernel routes into either device with the GENEVE header of its flow; this needs
CAP_NET_ADMIN and /dev/net/tun.
Only GENEVE from the GWLB nodes (--gwlb-node, or gwlb_nodes in --config, where
gwlb-lab up lists those that target the node) is returned; packets with the
GENEVE O (control) bit are counted and not returned. A health responder answers
TCP and HTTP health checks on --health-port.

--config reads the appliance block of a resolved topology (JSON), as
gwlb-lab up writes it; flags given on the command line override it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, ip := range gwlbNodes {
				addr, ok := netip.AddrFromSlice(ip)
				if !ok {
					return fmt.Errorf("gwlb node %q is not an address", ip)
				}
				spec.GWLBNodes = append(spec.GWLBNodes, addr.Unmap())
			}
			if cfgPath != "" {
				b, err := os.ReadFile(cfgPath)
				if err != nil {
					return err
				}
				var file topology.Appliance
				if err := json.Unmarshal(b, &file); err != nil {
					return fmt.Errorf("appliance config %q: %w", cfgPath, err)
				}
				mergeAppliance(cmd, &spec, file)
			}
			cfg, err := applianceConfig(spec, tcpTimeout)
			if err != nil {
				return err
			}
			if flowLog != "" {
				f, err := appliance.OpenRotating(flowLog, int64(spec.FlowLogMaxBytes))
				if err != nil {
					return err
				}
				defer f.Close()
				cfg.FlowLog = f
			}
			cfg.StatsFile = statsFile
			cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			return appliance.New(cfg).Run(cmd.Context())
		},
	}
	spec.Misbehave = &topology.Misbehave{}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "appliance settings as JSON (the resolved topology's appliance block)")
	f.StringVar(&flowLog, "flow-log", "", "append a JSON line per new flow and direction to this file")
	f.IntVar(&spec.FlowLogMaxBytes, "flow-log-max-bytes", topology.DefaultFlowLogMaxBytes, "rotate the flow log to FILE.1 when it would grow past this size")
	f.StringVar((*string)(&spec.Mode), "mode", "forward", "forward (pass everything), firewall (apply rules) or tunnel (through the kernel, by gwi-/gwo- TUN devices)")
	f.StringVar(&spec.Hook, "hook", "", "tunnel: shell command run when an endpoint's devices are made or removed, with CREATE|DESTROY, gwi-X, gwo-X and the endpoint id (hex) appended")
	f.IntVar(&spec.HealthPort, "health-port", 80, "TCP port of the health responder (0: none)")
	f.StringVar(&spec.DefaultAction, "default-action", "allow", "firewall: action when no rule matches (allow or deny)")
	f.DurationVar(&tcpTimeout, "session-timeout", time.Hour, "firewall: idle timeout of TCP connections (many firewalls default to an hour; spec §6.6 #10)")
	f.BoolVar(&spec.Misbehave.AlterCookie, "alter-cookie", false, "misbehave: return another flow cookie")
	f.IntVar(&spec.Misbehave.StripOption, "strip-option", 0, "misbehave: remove AWS option 1, 2 or 3 from returns")
	f.Uint32Var(&spec.Misbehave.VNI, "vni", 0, "misbehave: return this VNI")
	f.IntVar(&spec.Misbehave.ReplyFromPort, "reply-from-port", 0, "misbehave: send returns from this UDP port")
	f.BoolVar(&spec.Misbehave.ReflectTCP, "reflect-tcp", false, "misbehave: send every TCP packet received back to its sender, addresses swapped (Snort's gwlb DAQ without a filter)")
	f.IntVar(&spec.Misbehave.HealthDelayMS, "health-delay-ms", 0, "misbehave: answer HTTP health checks this many milliseconds late")
	f.BoolVar(&spec.Misbehave.Control, "control", false, "misbehave: set the GENEVE O (control) bit of returns")
	f.IPSliceVar(&gwlbNodes, "gwlb-node", nil, "address of a GWLB node that sends here (repeat or comma-separate); GENEVE from any other address is refused and counted. None: any sender is taken for a GWLB node")
	f.StringVar(&statsFile, "stats", "", "write the appliance's counters to this file as JSON, about once a second while they change")
	return cmd
}

// mergeAppliance fills spec from a config file, except for the flags the
// command line set.
func mergeAppliance(cmd *cobra.Command, spec *topology.Appliance, file topology.Appliance) {
	set := cmd.Flags().Changed
	if !set("mode") {
		spec.Mode = file.Mode
	}
	if !set("hook") {
		spec.Hook = file.Hook
	}
	if !set("health-port") {
		spec.HealthPort = file.HealthPort
	}
	if !set("default-action") && file.DefaultAction != "" {
		spec.DefaultAction = file.DefaultAction
	}
	spec.Rules = file.Rules
	spec.FlowLog = file.FlowLog
	if !set("flow-log-max-bytes") && file.FlowLogMaxBytes > 0 {
		spec.FlowLogMaxBytes = file.FlowLogMaxBytes
	}
	if !set("gwlb-node") {
		spec.GWLBNodes = file.GWLBNodes
	}
	if spec.Misbehave == nil {
		spec.Misbehave = &topology.Misbehave{}
	}
	if file.Misbehave != nil {
		m := *file.Misbehave
		if !set("alter-cookie") {
			spec.Misbehave.AlterCookie = m.AlterCookie
		}
		if !set("strip-option") {
			spec.Misbehave.StripOption = m.StripOption
		}
		if !set("vni") {
			spec.Misbehave.VNI = m.VNI
		}
		if !set("reply-from-port") {
			spec.Misbehave.ReplyFromPort = m.ReplyFromPort
		}
		if !set("reflect-tcp") {
			spec.Misbehave.ReflectTCP = m.ReflectTCP
		}
		if !set("health-delay-ms") {
			spec.Misbehave.HealthDelayMS = m.HealthDelayMS
		}
		if !set("control") {
			spec.Misbehave.Control = m.Control
		}
	}
}

func applianceConfig(spec topology.Appliance, tcpTimeout time.Duration) (appliance.Config, error) {
	cfg := appliance.Config{GWLBNodes: spec.GWLBNodes}
	if spec.HealthPort > 0 {
		cfg.HealthAddr = ":" + strconv.Itoa(spec.HealthPort)
	}
	if spec.Misbehave != nil {
		m := spec.Misbehave
		cfg.Misbehave = appliance.Misbehave{AlterCookie: m.AlterCookie, StripOption: m.StripOption, VNI: m.VNI, ReplyFromPort: uint16(m.ReplyFromPort),
			ReflectTCP: m.ReflectTCP, HealthDelay: time.Duration(m.HealthDelayMS) * time.Millisecond, Control: m.Control}
	}
	if spec.Hook != "" && spec.Mode != topology.ApplianceTunnel {
		return cfg, fmt.Errorf("a hook needs mode tunnel (mode is %q)", spec.Mode)
	}
	switch spec.Mode {
	case "", topology.ApplianceForward:
		cfg.Handler = appliance.Forward{}
	case topology.ApplianceTunnel:
		cfg.Handler = appliance.Forward{}
		cfg.Tunnel, cfg.Hook = true, spec.Hook
	case topology.ApplianceFirewall:
		fw := &appliance.Firewall{DefaultAllow: spec.DefaultAction != "deny", TCPTimeout: tcpTimeout, OtherTimeout: 120 * time.Second}
		for i, r := range spec.Rules {
			rule := appliance.Rule{Allow: r.Action == "allow", CIDR: r.CIDR, Port: uint16(r.Port)}
			switch r.Protocol {
			case "", "any":
			case "tcp":
				rule.Proto = packet.ProtoTCP
			case "udp":
				rule.Proto = packet.ProtoUDP
			case "icmp":
				rule.Proto = packet.ProtoICMP
			default:
				return cfg, fmt.Errorf("rule %d: unknown protocol %q", i, r.Protocol)
			}
			fw.Rules = append(fw.Rules, rule)
		}
		cfg.Handler = fw
	default:
		return cfg, fmt.Errorf("unknown appliance mode %q (forward, firewall or tunnel)", spec.Mode)
	}
	return cfg, nil
}
