package appliance

import (
	"encoding/binary"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// Misbehave lists deliberate protocol violations, for negative tests; the
// zero value behaves.
type Misbehave struct {
	// AlterCookie returns every packet with its flow cookie inverted.
	AlterCookie bool
	// StripOption removes AWS option type 1, 2 or 3 from returned headers.
	StripOption int
	// VNI, when non-zero, is written into returned headers.
	VNI uint32
	// ReplyFromPort, when non-zero, is the outer UDP source port of returns
	// instead of the GWLB's.
	ReplyFromPort uint16
	// ReflectTCP sends every TCP packet the appliance's host receives back
	// to its sender with the IP addresses swapped and everything else kept,
	// as Snort 3's gwlb DAQ does with every packet it passes when no BPF
	// filter keeps the GWLB node's health checks away from it.
	ReflectTCP bool
	// HealthDelay makes the health responder answer HTTP checks late.
	HealthDelay time.Duration
}

// apply rewrites the GENEVE header hdr (header and options) that will be
// returned, in place, and returns its possibly shorter length.
func (m Misbehave) apply(hdr []byte) int {
	g := packet.Geneve(hdr)
	if m.VNI != 0 {
		g.SetVNI(m.VNI)
	}
	n := len(hdr)
	if m.AlterCookie || m.StripOption != 0 {
		off := packet.GeneveLen
		for off+packet.GeneveOptionLen <= n {
			opt := packet.GeneveOption(hdr[off:n])
			size := packet.GeneveOptionLen + opt.DataLen()
			if off+size > n {
				break
			}
			isAWS := opt.Class() == packet.AWSOptionClass
			if isAWS && m.AlterCookie && opt.Type() == packet.AWSTypeCookie && opt.DataLen() == 4 {
				d := opt.Data()
				binary.BigEndian.PutUint32(d, ^binary.BigEndian.Uint32(d))
			}
			if isAWS && m.StripOption != 0 && int(opt.Type()) == m.StripOption {
				copy(hdr[off:], hdr[off+size:n])
				n -= size
				g.SetOptionsLen(n - packet.GeneveLen)
				continue
			}
			off += size
		}
	}
	return n
}
