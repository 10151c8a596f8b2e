package packet

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unhex decodes hex written for people: whitespace is ignored and "#" starts
// a comment that runs to the end of the line.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var sb strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, "#")
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// cmpOpts compares netip.Addr by value (it has unexported fields).
var cmpOpts = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// withHeadroom returns a buffer holding pkt at offset 128, as a port read
// leaves it (DESIGN §3).
func withHeadroom(pkt []byte) (buf []byte, off int) {
	buf = make([]byte, 128+len(pkt))
	copy(buf[128:], pkt)
	return buf, 128
}
