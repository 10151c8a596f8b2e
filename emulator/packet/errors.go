package packet

import "errors"

// Sentinel errors. The data plane counts drops by these reasons, so they are
// returned as they are, never wrapped on the hot path.
var (
	// ErrTruncated: the bytes end before the header (or a length it declares).
	ErrTruncated = errors.New("packet: truncated")
	// ErrShortBuffer: a builder was given too little room.
	ErrShortBuffer = errors.New("packet: buffer too short")
	// ErrVersion: the IP version nibble is not the one expected.
	ErrVersion = errors.New("packet: wrong ip version")
	// ErrHeaderLen: a header length field is impossible (IHL < 5, TCP data
	// offset < 5, UDP length < 8, total length shorter than the header).
	ErrHeaderLen = errors.New("packet: bad header length")
	// ErrChecksum: a checksum does not verify.
	ErrChecksum = errors.New("packet: bad checksum")
	// ErrFragment: a fragment where a whole packet is required.
	ErrFragment = errors.New("packet: fragmented packet")
	// ErrExtHeader: the IPv6 extension header chain is malformed.
	ErrExtHeader = errors.New("packet: bad ipv6 extension header chain")
	// ErrARPFormat: ARP other than IPv4 over Ethernet.
	ErrARPFormat = errors.New("packet: not ipv4-over-ethernet arp")

	// ErrNotIPv4: the outer header of a GENEVE frame is not IPv4 (GWLB
	// always encapsulates in IPv4, spec §2.1).
	ErrNotIPv4 = errors.New("packet: outer header is not ipv4")
	// ErrNotGeneve: not UDP to port 6081.
	ErrNotGeneve = errors.New("packet: not udp to geneve port 6081")
	// ErrGeneveVersion: GENEVE version other than 0 (RFC 8926 §3.4: drop).
	ErrGeneveVersion = errors.New("packet: geneve version is not 0")
	// ErrGeneveOptions: the option area is malformed (an option overruns
	// the header's opt len) or an option being built is too long.
	ErrGeneveOptions = errors.New("packet: malformed geneve options")
	// ErrGeneveProtocol: protocol type other than 0x0800 or 0x86DD.
	ErrGeneveProtocol = errors.New("packet: geneve protocol type is not ipv4 or ipv6")
	// ErrInnerVersion: the inner packet's version nibble does not match the
	// GENEVE protocol type (or, when encapsulating, is neither 4 nor 6).
	ErrInnerVersion = errors.New("packet: inner packet version does not match")
	// ErrCriticalOption: an option this package does not know has the
	// critical bit set (RFC 8926 §3.5: the packet must be dropped).
	ErrCriticalOption = errors.New("packet: unknown critical geneve option")
	// ErrAWSOptionMissing: one of the AWS options types 1, 2, 3 is absent.
	ErrAWSOptionMissing = errors.New("packet: aws geneve option missing")
	// ErrAWSOptionDuplicate: one of the AWS option types appears twice.
	ErrAWSOptionDuplicate = errors.New("packet: aws geneve option duplicated")
	// ErrAWSOptionLength: an AWS option has the wrong data length.
	ErrAWSOptionLength = errors.New("packet: aws geneve option has wrong length")

	// ErrHeadroom: too little space in front of the packet to encapsulate.
	ErrHeadroom = errors.New("packet: not enough headroom to encapsulate")
	// ErrTooBig: the encapsulated packet would exceed 65535 bytes of IPv4.
	ErrTooBig = errors.New("packet: packet too big to encapsulate")
)
