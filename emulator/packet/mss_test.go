package packet

import (
	"bytes"
	"testing"
)

func TestClampMSS(t *testing.T) {
	syn := func(opts string) TCPHeader {
		return TCPHeader{SrcPort: 32486, DstPort: 80, Seq: 0x6b8b4567, Flags: TCPFlagSYN, Window: 64240, Options: unhex(t, opts)}
	}
	tests := []struct {
		name    string
		hdr     TCPHeader
		max     uint16
		changed bool
		wantMSS uint16
		hasMSS  bool
	}{
		{"jumbo server clamped", syn("020422c1"), 8460, true, 8460, true}, // 8897 -> 8460
		{"linux syn clamped", syn("020405b4 0402080a 000f4240 00000000 01030307"), 1400, true, 1400, true},
		{"already small", syn("02040578"), 1400, false, 1400, true},
		{"equal", syn("02040578"), 1400, false, 1400, true},
		{"no options", syn(""), 1000, false, 0, false},
		{"after a lone nop: odd offset", syn("01020405 b4000000"), 1200, true, 1200, true},
		{"after timestamps", syn("0101080a 00000001 00000002 020405b4"), 536, true, 536, true},
		{"end of list before mss", syn("00000000 020405b4"), 536, false, 0, false},
		{"option length 0 stops the walk", syn("03000000 020405b4"), 536, false, 0, false},
		{"option overruns header", syn("03030101 01010204"), 536, false, 0, false},
		{"mss with wrong length is skipped", syn("02060000 0000 020405b4 0000"), 536, true, 536, true},
		{"kind in last byte", syn("01010102"), 536, false, 0, false},
	}
	for _, tt := range tests {
		for _, h := range []IPHeader{{Src: v4src, Dst: v4dst}, {Src: v6src, Dst: v6dst}} {
			t.Run(tt.name+"/"+h.Src.String(), func(t *testing.T) {
				p := AppendTCP(nil, h, tt.hdr, []byte("data"))
				_, fi, err := ParseFlow(p)
				if err != nil {
					t.Fatal(err)
				}
				seg := TCP(p[fi.L4Offset:])
				before := bytes.Clone(seg)
				if got := seg.ClampMSS(tt.max); got != tt.changed {
					t.Errorf("ClampMSS = %v, want %v", got, tt.changed)
				}
				mss, ok := seg.MSS()
				if ok != tt.hasMSS || mss != tt.wantMSS {
					t.Errorf("MSS = %d, %v; want %d, %v", mss, ok, tt.wantMSS, tt.hasMSS)
				}
				if !seg.ChecksumValid(h.Src, h.Dst) {
					t.Error("checksum does not verify after the clamp")
				}
				if !tt.changed && !bytes.Equal(before, seg) {
					t.Error("segment changed although ClampMSS reported no change")
				}
			})
		}
	}
}

func TestClampMSSBadDataOffset(t *testing.T) {
	p := AppendTCP(nil, IPHeader{Src: v4src, Dst: v4dst}, TCPHeader{Flags: TCPFlagSYN, Options: MSSOption(9001)}, nil)
	seg := TCP(p[20:])
	seg.SetDataOffset(60) // beyond the segment: ignore, don't panic
	if seg.ClampMSS(1000) {
		t.Error("clamped through a bad data offset")
	}
	if _, ok := seg.MSS(); ok {
		t.Error("MSS read through a bad data offset")
	}
}
