package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/spf13/cobra"
)

// dropInherited closes the descriptors above 2 that this process inherited
// and that name files under the lab state root. Run by the emulator (an auto
// scaling controller execs node add and node remove), this process would
// otherwise hold the emulator's hold file and pass it on to the node
// programs it starts; emulator restart and down stop every holder of that
// file as a stray emulator, and would stop them too. Standard input, output
// and error stay: errors land where the caller reads them.
func dropInherited(root string) {
	if root == "" {
		root = lab.DefaultStateRoot
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(target, filepath.Clean(root)+"/") {
			_ = unix.Close(fd)
		}
	}
}

// nodeBody is how node add learns what runs in the new node: exactly one
// source. A new source (a launch template) is one more flag and one more
// case in spec.
type nodeBody struct {
	like string
	file string
	asg  string
}

func (b *nodeBody) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&b.like, "like", "", "run what an existing instance of the lab runs (its run section, container and source/destination check), e.g. fw-1")
	cmd.Flags().StringVar(&b.asg, "asg", "", "run the launch template of the lab's auto scaling group of that name (its instances are made so; --subnet must be one of the group's)")
	cmd.Flags().StringVar(&b.file, "file", "", "a node file: one instance as the topology file writes it (run, container, source_dest_check; subnet, private_ip, ipv6_address as defaults of the flags); - reads standard input")
}

// fill sets the body of spec from the flags.
func (b *nodeBody) fill(cmd *cobra.Command, stdin io.Reader, spec *lab.NodeSpec) error {
	n := 0
	for _, v := range []string{b.like, b.file, b.asg} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return fmt.Errorf("give one of --like, --file and --asg")
	case b.asg != "":
		spec.ASG = b.asg
	case b.like != "":
		spec.Like = b.like
	case b.file != "":
		var data []byte
		var err error
		name := b.file
		if b.file == "-" {
			name = "(stdin)"
			data, err = topology.ReadAll(cmd.Context(), stdin)
		} else {
			data, err = topology.ReadFileOf(cmd.Context(), "node", b.file)
		}
		if err != nil {
			return err
		}
		body, err := topology.ParseNode(cmd.Context(), data, name)
		if err != nil {
			return err
		}
		spec.Body, spec.BodyFile = body, b.file
	default:
		return fmt.Errorf("say what runs in the node: --like NODE (as an existing instance), --file node.yaml or --asg GROUP (an auto scaling group's launch template)")
	}
	return nil
}

func newNodeAddCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		spec   lab.NodeSpec
		body   nodeBody
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "add NODE --subnet SUBNET [--vpc VPC] [--ip IP] [--ipv6 auto|IP] (--like NODE | --file FILE | --asg GROUP) [--name LAB] [--json]",
		Short: "Add an instance to a running lab: a namespace (or container), its ENI in a subnet, its program",
		Long: `Add an instance named NODE to a running lab, made as up makes the topology
file's instances: a network namespace (a container for a node with a container
section), eth0 with its address, default route and sysctls, its port in the
emulator, and its program, started and waited for as up does.

What runs in it comes from --like (an existing instance's run section,
container and source/destination check, e.g. --like fw-1 for another
appliance) or --file (one instance as the topology file writes it, checked by
the same rules, errors with line numbers) or --asg (the launch template of one
of the lab's auto scaling groups: the emulator adds the groups' instances
this way, and so may you, though such a node is not one of the group's).

Its address is --ip, else the lowest address of the subnet that AWS does not
reserve and nothing in the lab uses; --ipv6 auto gives it the subnet's IPv6
prefix plus the host number of that address (a dualstack subnet only). Its
instance id and MAC are derived from the lab and node names, as the topology
file's are. NODE must be a valid name that no node of the lab has.

The node is recorded in the lab's state before anything is made, so down
removes it, and node remove finishes a half-made one. It is not a target of
any GWLB until 'gwlb-lab targets register NODE'. It survives 'emulator
restart', not the lab. Several node add and node remove may run at once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dropInherited(env.StateRoot)
			spec.Name = args[0]
			if err := body.fill(cmd, env.Stdin, &spec); err != nil {
				return err
			}
			m, name, err := ref.open(cmd)
			if err != nil {
				return err
			}
			ns, err := m.AddNode(cmd.Context(), name, spec)
			if err != nil {
				return err
			}
			return output(cmd, asJSON, ns, func(w io.Writer) error {
				fmt.Fprintf(w, "node %s added: %s, %s in %s/%s (%s)\n", ns.Name, ns.ID, ns.Address, ns.VPC, ns.Subnet, ns.AZ)
				return nil
			})
		},
	}
	ref.register(cmd.Flags())
	body.register(cmd)
	cmd.Flags().StringVar(&spec.Subnet, "subnet", "", "the subnet of its ENI (required, unless the node file names one)")
	cmd.Flags().StringVar(&spec.VPC, "vpc", "", "the subnet's VPC (needed only when several VPCs have a subnet of that name)")
	cmd.Flags().StringVar(&spec.IP, "ip", "", "its private IPv4 address (default: the lowest free one of the subnet)")
	cmd.Flags().StringVar(&spec.IPv6, "ipv6", "", "its IPv6 address in a dualstack subnet, or auto (default: none)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the new node's entry as nodes --json prints each node")
	return cmd
}

func newNodeRemoveCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "remove NODE [--name LAB] [--json]",
		Short: "Remove a node added to a running lab with node add",
		Long: `Remove a node added with node add: its port in the emulator first, then its
processes, container, namespace, files and records. The emulator refuses (and
nothing is touched) while the node is a registered target (deregister it
first: gwlb-lab targets deregister NODE) or a route's target. A node that node
add left half-made (killed midway) is removed too. Nodes of the topology file
are not removed: node stop stops their program; down removes the lab.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dropInherited(env.StateRoot)
			m, name, err := ref.open(cmd)
			if err != nil {
				return err
			}
			if err := m.RemoveNode(cmd.Context(), name, args[0]); err != nil {
				return err
			}
			out := struct {
				Name    string `json:"name"`
				Removed bool   `json:"removed"`
			}{args[0], true}
			return output(cmd, asJSON, out, func(w io.Writer) error {
				fmt.Fprintf(w, "node %s removed\n", args[0])
				return nil
			})
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
