// Package port is the emulator's edge: a Port moves whole Ethernet frames
// between the emulator and one ENI of the lab. It owns the Port interface
// (the seam of DESIGN §3, shaped like wireguard-go's tun.Device), the TAP
// implementation the lab runs on, and an in-memory Pipe for unit tests of
// the fabric.
//
// Buffers belong to the caller: Read fills the caller's buffers after
// offset bytes of headroom, so the GENEVE encapsulation can write its outer
// headers in front of a frame without copying it; Write sends bufs[i][offset:]
// and keeps nothing. Neither allocates per frame.
//
// Trade-off: the TAP port opens /dev/net/tun with a virtio-net header and
// offers the node's kernel checksum and segmentation offloads, so a node
// hands over up to 64 KB per read(2). Read splits those super-frames at
// once (emulator/offload), so the fabric, trace, capture, the GENEVE leg
// with its 8500-byte inner limit and the endpoint's MSS clamp see exactly
// the packets the node would have sent without the offload; the gain is
// in system calls and in the node's stack, not in the fabric's per-packet
// work. Write merges runs of one flow's TCP segments into one GSO frame,
// as the node's GRO would, and writes everything else as it is. Reads and
// writes go through Go's poller on a non-blocking descriptor, so Close
// interrupts a blocked Read. AF_PACKET on a veth was measured as the
// alternative and not kept: see docs/benchmarks.md.
package port
