package wirecheck

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// want is what an independent decoder must see in one GWLB frame.
type want struct {
	OuterSrc, OuterDst string
	OuterSrcPort       int
	ProtoType          string // geneve.proto_type as tshark shows it: "0x0800" or "0x86dd"
	InnerSrc, InnerDst string
	InnerL4            string // tshark protocol name: tcp, udp, icmp, icmpv6
	InnerSrcPort       int    // 0 for ICMP
	InnerDstPort       int
}

// tsharkFrame is what tshark decoded of one frame.
type tsharkFrame struct {
	OuterSrc, OuterDst         string
	OuterSrcPort, OuterDstPort string
	Version, Flags, VNI        string
	ProtoType                  string
	OptLengths                 []string // the whole option area first, then each option (tshark 4.0, spec §12)
	OptClasses                 []string
	OptClassNames              []string
	OptTypes                   []string
	InnerSrc, InnerDst         string
	InnerL4                    string
	InnerSrcPort, InnerDstPort string
}

// pdmlNode is any element of tshark's PDML output. PDML is used rather than
// -T fields or -T json because in tshark 4.0 it is the only machine format
// that carries the value-string labels ("Amazon.com, Inc.") beside the raw
// values.
type pdmlNode struct {
	XMLName  xml.Name
	Name     string     `xml:"name,attr"`
	Show     string     `xml:"show,attr"`
	Showname string     `xml:"showname,attr"`
	Children []pdmlNode `xml:",any"`
}

// runTshark decodes every frame of a pcap file.
func runTshark(ctx context.Context, pcapPath string) ([]tsharkFrame, error) {
	out, err := run(ctx, "tshark", "-n", "-r", pcapPath, "-T", "pdml")
	if err != nil {
		return nil, err
	}
	var doc pdmlNode
	if err := xml.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("parse tshark pdml: %w", err)
	}
	var frames []tsharkFrame
	for _, p := range doc.Children {
		if p.XMLName.Local == "packet" {
			frames = append(frames, readFrame(p))
		}
	}
	return frames, nil
}

// readFrame walks one packet in document order; protocols after "geneve"
// are the inner packet's.
func readFrame(pkt pdmlNode) tsharkFrame {
	var f tsharkFrame
	inner := false
	var walk func(n pdmlNode)
	walk = func(n pdmlNode) {
		if n.XMLName.Local == "proto" {
			switch {
			case n.Name == "geneve":
				inner = true
			case inner && f.InnerL4 == "" && slices.Contains([]string{"tcp", "udp", "icmp", "icmpv6"}, n.Name):
				f.InnerL4 = n.Name
			}
		}
		set := func(outer, in *string) {
			if inner {
				*in = n.Show
			} else {
				*outer = n.Show
			}
		}
		switch n.Name {
		case "ip.src", "ipv6.src":
			set(&f.OuterSrc, &f.InnerSrc)
		case "ip.dst", "ipv6.dst":
			set(&f.OuterDst, &f.InnerDst)
		case "udp.srcport", "tcp.srcport":
			set(&f.OuterSrcPort, &f.InnerSrcPort)
		case "udp.dstport", "tcp.dstport":
			set(&f.OuterDstPort, &f.InnerDstPort)
		case "geneve.version":
			f.Version = n.Show
		case "geneve.flags":
			f.Flags = n.Show
		case "geneve.vni":
			f.VNI = n.Show
		case "geneve.proto_type":
			f.ProtoType = n.Show
		case "geneve.option.length":
			f.OptLengths = append(f.OptLengths, n.Show)
		case "geneve.option.class":
			f.OptClasses = append(f.OptClasses, n.Show)
			// showname is "Class: Amazon.com, Inc. (0x0108)".
			name, _, _ := strings.Cut(strings.TrimPrefix(n.Showname, "Class: "), " (0x")
			f.OptClassNames = append(f.OptClassNames, name)
		case "geneve.option.type":
			f.OptTypes = append(f.OptTypes, n.Show)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(pkt)
	return f
}

// checkTshark reports every way a decoded frame differs from GWLB's
// encapsulation of w (spec §2.2, §2.3, §12); nil when it matches.
func checkTshark(f tsharkFrame, w want) error {
	var errs []error
	expect := func(field string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			errs = append(errs, fmt.Errorf("%s = %v, want %v", field, got, want))
		}
	}
	port := func(p int) string {
		if p == 0 {
			return ""
		}
		return fmt.Sprint(p)
	}
	expect("outer ip.src", f.OuterSrc, w.OuterSrc)
	expect("outer ip.dst", f.OuterDst, w.OuterDst)
	expect("outer udp.srcport", f.OuterSrcPort, w.OuterSrcPort)
	expect("outer udp.dstport", f.OuterDstPort, 6081)
	expect("geneve.version", f.Version, "0")
	expect("geneve.flags", f.Flags, "0x00")
	expect("geneve.vni", f.VNI, "0x000000")
	expect("geneve.proto_type", f.ProtoType, w.ProtoType)
	expect("geneve.option.length", f.OptLengths, []string{"32", "12", "12", "8"})
	expect("geneve.option.class", f.OptClasses, []string{"0x0108", "0x0108", "0x0108"})
	expect("geneve.option.class name", f.OptClassNames, []string{"Amazon.com, Inc.", "Amazon.com, Inc.", "Amazon.com, Inc."})
	expect("geneve.option.type", f.OptTypes, []string{"0x01", "0x02", "0x03"})
	expect("inner src", f.InnerSrc, w.InnerSrc)
	expect("inner dst", f.InnerDst, w.InnerDst)
	expect("inner protocol", f.InnerL4, w.InnerL4)
	expect("inner src port", f.InnerSrcPort, port(w.InnerSrcPort))
	expect("inner dst port", f.InnerDstPort, port(w.InnerDstPort))
	return errors.Join(errs...)
}

// dump is tcpdump's rendering of one frame, brief (-n) and verbose (-nv).
type dump struct{ Brief, Verbose string }

// runTcpdump renders every frame of a pcap file. -t drops timestamps, so a
// line that does not start with white space starts a packet.
func runTcpdump(ctx context.Context, pcapPath string) ([]dump, error) {
	brief, err := run(ctx, "tcpdump", "-t", "-n", "-r", pcapPath)
	if err != nil {
		return nil, err
	}
	verbose, err := run(ctx, "tcpdump", "-t", "-nv", "-r", pcapPath)
	if err != nil {
		return nil, err
	}
	b, v := splitPackets(string(brief)), splitPackets(string(verbose))
	if len(b) != len(v) {
		return nil, fmt.Errorf("tcpdump printed %d packets brief and %d verbose", len(b), len(v))
	}
	dumps := make([]dump, len(b))
	for i := range b {
		dumps[i] = dump{b[i], v[i]}
	}
	return dumps, nil
}

func splitPackets(out string) []string {
	var pkts []string
	for line := range strings.Lines(out) {
		if line != "" && line[0] != ' ' && line[0] != '\t' {
			pkts = append(pkts, "")
		}
		if len(pkts) > 0 {
			pkts[len(pkts)-1] += line
		}
	}
	return pkts
}

// The AWS options as tcpdump 4.99 -v lists them; without -v it prints only
// their total size.
const tcpdumpAWSOptions = "options [class Unknown (0x108) type 0x1 len 12, class Unknown (0x108) type 0x2 len 12, class Unknown (0x108) type 0x3 len 8]"

// checkTcpdump reports every way tcpdump's rendering differs from what it
// prints for real GWLB traffic (spec §2.1, §12); nil when it matches.
func checkTcpdump(d dump, w want) error {
	ip := "IP"
	if strings.Contains(w.InnerSrc, ":") {
		ip = "IP6"
	}
	inner := fmt.Sprintf("%s > %s:", w.InnerSrc, w.InnerDst)
	if w.InnerSrcPort != 0 {
		inner = fmt.Sprintf("%s.%d > %s.%d:", w.InnerSrc, w.InnerSrcPort, w.InnerDst, w.InnerDstPort)
	}
	outer := fmt.Sprintf("%s.%d > %s.6081: ", w.OuterSrc, w.OuterSrcPort, w.OuterDst)
	var errs []error
	if line := outer + "Geneve, Flags [none], vni 0x0, options [32 bytes]: " + ip + " " + inner; !strings.Contains(d.Brief, line) {
		errs = append(errs, fmt.Errorf("tcpdump -n: want %q in %q", line, d.Brief))
	}
	head := outer + "Geneve, Flags [none], vni 0x0, " + tcpdumpAWSOptions
	i := strings.Index(d.Verbose, head)
	switch {
	case i < 0:
		errs = append(errs, fmt.Errorf("tcpdump -nv: want %q in %q", head, d.Verbose))
	case !strings.Contains(d.Verbose[i+len(head):], inner):
		errs = append(errs, fmt.Errorf("tcpdump -nv: want the inner packet %q after the GENEVE header in %q", inner, d.Verbose))
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}
