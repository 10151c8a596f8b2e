package offload

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzSplit feeds arbitrary frames and headers to the Segmenter: it must
// not panic, and whatever it accepts comes out as segments no longer than
// SegmentLen with valid checksums and, together, the super-frame's payload.
func FuzzSplit(f *testing.F) {
	for _, c := range []case_{
		{mss: 100, payload: make([]byte, 350), flags: tcpACK | tcpPSH | tcpCWR, opts: tsOpt},
		{v6: true, mss: 64, payload: make([]byte, 200), flags: tcpACK | tcpFIN},
		{udp: true, mss: 30, payload: make([]byte, 100)},
		{v6: true, udp: true, mss: 1, payload: make([]byte, 3)},
	} {
		fr, h := c.superFrame()
		f.Add(fr, h.GSOType, h.GSOSize, h.CsumStart, h.Flags)
	}
	f.Fuzz(func(t *testing.T, fr []byte, gt uint8, size, start uint16, flags uint8) {
		h := Hdr{Flags: flags, GSOType: gt, GSOSize: size, CsumStart: start}
		orig := bytes.Clone(fr)
		var s Segmenter
		if s.Reset(fr, h) != nil {
			return
		}
		buf := make([]byte, s.SegmentLen())
		var payload []byte
		for k := 0; s.Pending(); k++ {
			n, err := s.Next(buf)
			if err != nil {
				t.Fatalf("segment %d: %v", k, err)
			}
			seg := buf[:n]
			proto := uint8(protoTCP)
			if s.udp {
				proto = protoUDP
			}
			if !s.v6 && checksum(seg[s.l3:s.l4], 0) != 0xffff {
				t.Fatalf("segment %d: IPv4 header checksum wrong", k)
			}
			if checksum(seg[s.l4:], pseudoSum(seg[s.l3:], s.v6, proto, n-s.l4)) != 0xffff {
				t.Fatalf("segment %d: transport checksum wrong", k)
			}
			payload = append(payload, seg[s.hdrEnd:]...)
		}
		if !bytes.Equal(fr, orig) {
			t.Fatal("the super-frame was modified")
		}
		if len(payload) > 0 && !bytes.Equal(payload, orig[s.hdrEnd:]) {
			t.Fatal("the segments' payloads are not the super-frame's")
		}
	})
}

// FuzzCoalesce damages a few bytes of a stream of segments of two flows
// and plans the batch: every coalesced write splits back into exactly its
// members, and each flow's frames keep their order.
func FuzzCoalesce(f *testing.F) {
	f.Add(false, uint16(200), uint8(10), []byte{})
	f.Add(true, uint16(100), uint8(30), []byte{3, 40, 1, 5, 60, 0x10})
	f.Add(false, uint16(1000), uint8(5), []byte{1, 47, 0x08})
	f.Fuzz(func(t *testing.T, v6 bool, mss uint16, n uint8, damage []byte) {
		if mss == 0 || mss > 2000 || n == 0 || n > 80 {
			return
		}
		c := case_{v6: v6, mss: int(mss), flags: tcpACK, seq: 5, id: 9, opts: tsOpt}
		a := stream(c, int(n))
		c.seq += 1 << 30
		b := stream(c, int(n)/2+1)
		l4 := 34
		if v6 {
			l4 = 54
		}
		for _, s := range b {
			s[l4+1] ^= 1 // another source port
			binary.BigEndian.PutUint16(s[l4+16:], 0)
			fixTCP(s)
		}
		frames := interleaveDamaged(a, b, damage)
		var co Coalescer
		co.Plan(frames, 0)
		checkWrites(t, &co, frames, "segment", bytes.Equal)
	})
}

// checkWrites writes frames as co planned them and checks that every
// coalesced write splits back into its members, each the same as the frame
// it stands for (by same), and that no flow's frames changed order.
func checkWrites(t *testing.T, co *Coalescer, frames [][]byte, what string, same func(a, b []byte) bool) {
	t.Helper()
	out, hdrs, members := written(t, co, frames)
	var replay [][]byte
	for k, w := range out {
		if len(members[k]) > 1 {
			var s Segmenter
			if err := s.Reset(w, hdrs[k]); err != nil {
				t.Fatalf("write %d does not split: %v", k, err)
			}
			buf := make([]byte, s.SegmentLen())
			for _, j := range members[k] {
				n, err := s.Next(buf)
				if err != nil || !same(buf[:n], frames[j]) {
					t.Fatalf("write %d: the %s for frame %d differs (%v)", k, what, j, err)
				}
			}
		}
		for _, j := range members[k] {
			replay = append(replay, frames[j])
		}
	}
	if got, want := flowOrder(replay), flowOrder(frames); !equalOrders(got, want) {
		t.Fatal("per-flow order changed")
	}
}

// interleaveDamaged puts every third frame of flow b between a's frames,
// in order, then flips bytes as damage says (triples: frame, offset,
// mask), so runs are broken and some frames are corrupt.
func interleaveDamaged(a, b [][]byte, damage []byte) [][]byte {
	var frames [][]byte
	for i := range max(len(a), len(b)) {
		if i < len(a) {
			frames = append(frames, a[i])
		}
		if i < len(b) && i%3 == 0 {
			frames = append(frames, b[i])
		}
	}
	for i := 0; i+2 < len(damage); i += 3 {
		fr := frames[int(damage[i])%len(frames)]
		fr[int(damage[i+1])%len(fr)] ^= damage[i+2]
	}
	return frames
}
