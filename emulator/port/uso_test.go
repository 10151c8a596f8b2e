package port

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

var _ = Describe("TAP port UDP coalescing", func() {
	const mtu = 1500
	var (
		path    string
		tap     *TAP
		nodeMAC net.HardwareAddr
		peerMAC = packet.MAC{2, 0, 0, 0, 0, 0x99}
		nodeIP  = netip.MustParseAddr("192.0.2.2")
		peerIP  = netip.MustParseAddr("192.0.2.1")
	)
	BeforeEach(func() {
		if !isRoot() {
			Skip(rootReason)
		}
		name := uniqueName("uso")
		var err error
		path, err = createNetNS(name)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(deleteNetNS, name)
		Expect(createTAP(path, "eth0")).To(Succeed())
		DeferCleanup(deleteLink, path, "eth0")
		nodeMAC, err = linkUp(path, "eth0", mtu, "192.0.2.2/24")
		Expect(err).NotTo(HaveOccurred())
		tap, err = OpenTAP(path, "eth0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(tap.Close)
		if err := tap.CoalesceUDP(true); err != nil {
			Skip("this kernel has no USO on TAPs (6.2 on): " + err.Error())
		}
	})

	// geneveLike is n datagrams from the peer to port, of size payload
	// bytes but the last (size/3), as the emulator sends GENEVE: DF,
	// identification 0, no UDP checksum.
	geneveLike := func(n, size, port int) (frames [][]byte, payloads [][]byte) {
		for i := range n {
			p := make([]byte, size)
			if i == n-1 {
				p = p[:size/3]
			}
			for k := range p {
				p[k] = byte(i*13 + k)
			}
			ip := packet.AppendUDP(nil, packet.IPHeader{Src: peerIP, Dst: nodeIP, TTL: 64, DF: true}, 50000, uint16(port), p)
			binary.BigEndian.PutUint16(ip[20+6:], 0)
			frames = append(frames, packet.AppendFrame(make([]byte, Headroom), packet.MAC(nodeMAC), peerMAC, ip))
			payloads = append(payloads, p)
		}
		return
	}

	// listen opens a UDP socket on the node's address, with UDP_GRO if gro.
	listen := func(gro bool) (int, int) {
		var fd, port int
		Expect(ns.WithNetNSPath(path, func(ns.NetNS) error {
			var err error
			if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
				return err
			}
			if gro {
				if err := unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 1); err != nil {
					return err
				}
			}
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: nodeIP.As4()}); err != nil {
				return err
			}
			sa, err := unix.Getsockname(fd)
			port = sa.(*unix.SockaddrInet4).Port
			return err
		})).To(Succeed())
		DeferCleanup(unix.Close, fd)
		return fd, port
	}

	// receive reads until it has want datagrams, splitting GRO trains at
	// the segment size the kernel reports.
	receive := func(fd int, want int) (got [][]byte, trains int) {
		buf := make([]byte, 65536)
		oob := make([]byte, unix.CmsgSpace(4))
		for len(got) < want {
			n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
			Expect(err).NotTo(HaveOccurred(), "after %d of %d datagrams", len(got), want)
			seg := n
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			Expect(err).NotTo(HaveOccurred())
			for _, m := range msgs {
				if m.Header.Level == unix.IPPROTO_UDP && m.Header.Type == unix.UDP_GRO {
					seg = int(binary.NativeEndian.Uint32(m.Data))
				}
			}
			p := buf[:n]
			if len(p) > seg {
				trains++
			}
			for len(p) > seg {
				got, p = append(got, bytes.Clone(p[:seg])), p[seg:]
			}
			got = append(got, bytes.Clone(p))
		}
		return
	}

	for _, gro := range []bool{false, true} {
		It("hands a UDP socket the datagrams of a run written as one USO frame byte for byte (UDP_GRO "+map[bool]string{false: "off", true: "on"}[gro]+")", func() {
			fd, port := listen(gro)
			capture, err := openNSSocket(path, "eth0")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(capture.Close)

			frames, payloads := geneveLike(40, 1400, port)
			n, err := tap.Write(frames, Headroom)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(len(frames)))
			Expect(tap.OffloadStats().CoalescedUDP).To(BeNumerically(">=", 1))
			Expect(tap.OffloadStats().CoalesceUDPOff).To(BeEmpty())

			got, trains := receive(fd, len(payloads))
			Expect(got).To(HaveLen(len(payloads)))
			for i := range payloads {
				Expect(got[i]).To(Equal(payloads[i]), "datagram %d", i)
			}
			if gro {
				Expect(trains).To(BeNumerically(">=", 1), "the socket with UDP_GRO got no train")
			} else {
				Expect(trains).To(BeZero())
			}

			// What a capture in the node sees: the merged frame, not the
			// datagrams (why only ports of UDP-socket readers coalesce).
			longest, ids := 0, []uint16{}
			Eventually(func() int {
				b := make([]byte, 70000)
				for {
					capture.f.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					n, err := capture.f.Read(b)
					if err != nil || n < 14+28 {
						break
					}
					if binary.BigEndian.Uint16(b[12:]) == 0x0800 && b[14+9] == 17 && int(binary.BigEndian.Uint16(b[14+22:])) == port {
						longest = max(longest, n)
						ids = append(ids, binary.BigEndian.Uint16(b[14+4:]))
					}
				}
				return longest
			}).WithTimeout(2 * time.Second).Should(BeNumerically(">", mtu+14))
			GinkgoWriter.Printf("capture in the node: longest frame %d, IPv4 ids %v\n", longest, ids)
		})
	}

	It("writes datagrams alone when the port did not ask", func() {
		Expect(tap.CoalesceUDP(false)).To(Succeed())
		fd, port := listen(true)
		frames, payloads := geneveLike(10, 1000, port)
		_, err := tap.Write(frames, Headroom)
		Expect(err).NotTo(HaveOccurred())
		got, trains := receive(fd, len(payloads))
		Expect(got).To(Equal(payloads))
		Expect(tap.OffloadStats().CoalescedUDP).To(BeZero())
		_ = trains // the node's own GRO may still merge; nothing to assert
	})
})
