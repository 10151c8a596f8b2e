package topology

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// How the lab derives names, ids and MAC addresses. Everything is a pure
// function of the lab name and the object's name, so the same file gives the
// same lab every time, and two labs on one host never share a resource name.

// ErrLabName is returned (wrapped) for a lab name that is not valid.
var ErrLabName = errors.New("invalid lab name")

// MaxLabNameLen keeps namespace and other host resource names short.
const MaxLabNameLen = 12

var labNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ValidateLabName checks a lab name: 1 to 12 lowercase letters, digits or
// hyphens, not starting or ending with a hyphen.
func ValidateLabName(name string) error {
	if len(name) > MaxLabNameLen || !labNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1 to %d lowercase letters, digits or hyphens, not starting or ending with a hyphen", ErrLabName, name, MaxLabNameLen)
	}
	return nil
}

// ResourcePrefix returns the prefix of every host resource of a lab:
// "gwlb-<lab>-".
func ResourcePrefix(lab string) string { return "gwlb-" + lab + "-" }

// NetnsName returns the network namespace name of a node: gwlb-<lab>-<node>.
func NetnsName(lab, node string) string { return ResourcePrefix(lab) + node }

// InterfaceName is the name of the one ENI inside every node.
const InterfaceName = "eth0"

// hash64 hashes the lab name, a kind and a name into 64 bits.
func hash64(lab, kind, name string) uint64 {
	sum := sha256.Sum256([]byte(strings.Join([]string{"gwlb-lab", lab, kind, name}, "\x00")))
	return binary.BigEndian.Uint64(sum[:8])
}

// awsID returns an AWS-style id: prefix, a hyphen and 17 hex digits whose
// first is 0 (a 64-bit value), like vpce-0a1b2c3d4e5f60718.
func awsID(prefix, lab, kind, name string) (string, uint64) {
	h := hash64(lab, kind, name)
	return fmt.Sprintf("%s-%017x", prefix, h), h
}

// hexID returns 16 hex digits, as in ELB's CloudWatch dimensions.
func hexID(lab, kind, name string) string { return fmt.Sprintf("%016x", hash64(lab, kind, name)) }

// macFor returns a locally administered unicast MAC for an object.
func macFor(lab, kind, name string) MAC {
	var m MAC
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], hash64(lab, "mac/"+kind, name))
	copy(m[:], b[:6])
	m[0] = m[0]&^0x01 | 0x02 // unicast, locally administered
	return m
}
