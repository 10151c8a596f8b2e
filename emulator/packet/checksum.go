package packet

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// The Internet checksum (RFC 1071) is the ones' complement of the ones'
// complement sum of 16-bit big-endian words. Checksum returns the sum, not
// its complement, so that sums of pieces combine; the value stored in a
// header is ^sum.
//
// Because 2^16 ≡ 1 (mod 2^16-1), the sum can be accumulated 64 bits at a time
// with end-around carry and folded at the end (RFC 1071 §2 (C)).

// Checksum returns the ones' complement sum of b added to initial, folded to
// 16 bits but not complemented. An odd trailing byte is padded with zero, so
// when summing a buffer in pieces every piece but the last must have even
// length.
func Checksum(b []byte, initial uint16) uint16 {
	sum, carry := uint64(initial), uint64(0)
	for len(b) >= 32 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[8:]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[16:]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	if len(b) >= 4 {
		sum, carry = bits.Add64(sum, uint64(binary.BigEndian.Uint32(b)), carry)
		b = b[4:]
	}
	if len(b) >= 2 {
		sum, carry = bits.Add64(sum, uint64(binary.BigEndian.Uint16(b)), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		sum, carry = bits.Add64(sum, uint64(b[0])<<8, carry)
	}
	sum, carry = bits.Add64(sum, 0, carry)
	return fold64(sum + carry) // sum+carry cannot overflow: the carry-in was absorbed above
}

func fold64(s uint64) uint16 {
	s = s>>32 + s&0xffffffff
	s = s>>32 + s&0xffffffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return uint16(s)
}

func fold32(s uint32) uint16 {
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return uint16(s)
}

// ChecksumCombine adds two ones' complement sums.
func ChecksumCombine(a, b uint16) uint16 {
	return fold32(uint32(a) + uint32(b))
}

// PseudoHeaderChecksum returns the sum of the pseudo-header that TCP, UDP and
// ICMPv6 checksums cover: RFC 9293 §3.1 and RFC 768 for IPv4 (src, dst, zero,
// protocol, length), RFC 8200 §8.1 for IPv6 (src, dst, 32-bit length, zeros,
// next header). src and dst must be of the same family.
func PseudoHeaderChecksum(proto uint8, src, dst netip.Addr, length int) uint16 {
	var s uint16
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		s = Checksum(a[:], 0)
		s = Checksum(b[:], s)
	} else {
		a, b := src.As16(), dst.As16()
		s = Checksum(a[:], 0)
		s = Checksum(b[:], s)
	}
	return fold32(uint32(s) + uint32(proto) + uint32(length>>16) + uint32(length&0xffff))
}

// TransportChecksum returns ^(pseudo-header sum + sum of seg) for a TCP, UDP
// or ICMPv6 segment. With the segment's checksum field zeroed, it is the
// value to store; with a correct checksum in place, it is 0. (UDP stores
// 0xffff for a computed 0, RFC 768.)
func TransportChecksum(proto uint8, src, dst netip.Addr, seg []byte) uint16 {
	return ^Checksum(seg, PseudoHeaderChecksum(proto, src, dst, len(seg)))
}

// ChecksumAdjust16 returns the checksum field value after a 16-bit word of
// the covered data changed from m to m2 (RFC 1624 eqn. 3:
// HC' = ~(~HC + ~m + m')). The word must sit at an even offset of the
// checksummed data; for a word at an odd offset pass both values byte-swapped.
// UDP callers keep a zero checksum zero and store 0xffff for a zero result.
func ChecksumAdjust16(check, m, m2 uint16) uint16 {
	return ^fold32(uint32(^check) + uint32(^m) + uint32(m2))
}

// ChecksumAdjust32 is ChecksumAdjust16 for an aligned 32-bit field (a TCP
// sequence number, an IPv4 address).
func ChecksumAdjust32(check uint16, m, m2 uint32) uint16 {
	return ^fold32(uint32(^check) +
		uint32(^uint16(m>>16)) + uint32(^uint16(m)) +
		uint32(uint16(m2>>16)) + uint32(uint16(m2)))
}

// ChecksumAdjustAddr is ChecksumAdjust16 for an address change, as in an IP
// header (IPv4 only) or a pseudo-header (TCP, UDP, ICMPv6). from and to
// must be of the same family.
func ChecksumAdjustAddr(check uint16, from, to netip.Addr) uint16 {
	var o, n uint16
	if from.Is4() {
		a, b := from.As4(), to.As4()
		o, n = Checksum(a[:], 0), Checksum(b[:], 0)
	} else {
		a, b := from.As16(), to.As16()
		o, n = Checksum(a[:], 0), Checksum(b[:], 0)
	}
	return ChecksumAdjust16(check, o, n)
}
