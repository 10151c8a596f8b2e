package pcap

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriterGolden(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(0x6553f100, 123456789) // microseconds are written: 123456
	if err := w.WritePacket(ts, []byte{0xde, 0xad, 0xbe, 0xef}); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"d4c3b2a1", "0200", "0400", "00000000", "00000000", "00000400", "01000000", // file header, little-endian
		"00f15365", "40e20100", "04000000", "04000000", "deadbeef", // record
	}, "")
	if got := hex.EncodeToString(buf.Bytes()); got != want {
		t.Errorf("file\n got %s\nwant %s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 5, 6, 7, 8, 9, 10_000, time.UTC)
	var want []Packet
	for i := range 5 {
		frame := bytes.Repeat([]byte{byte(i + 1)}, 14+i*100)
		ts := base.Add(time.Duration(i) * 1500 * time.Microsecond)
		if err := w.WritePacket(ts, frame); err != nil {
			t.Fatal(err)
		}
		want = append(want, Packet{Time: ts, Data: frame, OrigLen: len(frame)})
	}
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != LinkTypeEthernet {
		t.Errorf("LinkType = %d", r.LinkType())
	}
	var got []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
}

// Files written elsewhere may be big-endian or have nanosecond timestamps.
func TestReaderVariants(t *testing.T) {
	for _, tt := range []struct {
		name  string
		order binary.AppendByteOrder
		magic uint32
		frac  uint32
		want  time.Time
	}{
		{"big-endian micro", binary.BigEndian, magicMicro, 250_000, time.Unix(1000, 250_000_000)},
		{"little-endian nano", binary.LittleEndian, magicNano, 123_456_789, time.Unix(1000, 123_456_789)},
		{"big-endian nano", binary.BigEndian, magicNano, 1, time.Unix(1000, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.order.AppendUint32(nil, tt.magic)
			f = tt.order.AppendUint16(f, 2)
			f = tt.order.AppendUint16(f, 4)
			f = append(f, make([]byte, 8)...)
			f = tt.order.AppendUint32(f, 65535)
			f = tt.order.AppendUint32(f, 1)
			f = tt.order.AppendUint32(f, 1000)
			f = tt.order.AppendUint32(f, tt.frac)
			f = tt.order.AppendUint32(f, 2)
			f = tt.order.AppendUint32(f, 60) // cut by the capture
			f = append(f, 0xab, 0xcd)
			r, err := NewReader(bytes.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !p.Time.Equal(tt.want) || !bytes.Equal(p.Data, []byte{0xab, 0xcd}) || p.OrigLen != 60 {
				t.Errorf("got %v %x %d", p.Time, p.Data, p.OrigLen)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after the last record: %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	var good bytes.Buffer
	w, _ := NewWriter(&good)
	w.WritePacket(time.Unix(1, 0), make([]byte, 20))
	b := good.Bytes()
	for _, tt := range []struct {
		name string
		file []byte
		open bool // error expected from NewReader rather than Next
	}{
		{"empty", nil, true},
		{"pcapng", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, b[4:]...), true},
		{"version 3", append(append(bytes.Clone(b[:4]), 3, 0), b[6:]...), true},
		{"record header cut", b[:24+10], false},
		{"record data cut", b[:len(b)-1], false},
		{"absurd length", append(bytes.Clone(b[:24+8]), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.file))
			if tt.open {
				if err == nil {
					t.Fatal("NewReader accepted a bad file")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Next(); err == nil || err == io.EOF || !errors.Is(err, ErrFormat) {
				t.Errorf("Next = %v, want ErrFormat", err)
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(failWriter{}); err == nil {
		t.Error("NewWriter ignored a write error")
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	if err := w.WritePacket(time.Now(), make([]byte, SnapLen+1)); err == nil {
		t.Error("oversized frame accepted")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
