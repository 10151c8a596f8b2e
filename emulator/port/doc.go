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
// Trade-off: the TAP port uses one read(2) or write(2) per frame on a
// non-blocking /dev/net/tun descriptor driven by Go's poller, without a
// virtio-net header, so no GSO/GRO batching. That keeps frames exactly what
// the node sent (no segmentation offload to emulate) and makes Close
// interrupt a blocked Read, at a cost in peak frame rate that a lab of
// appliances under test does not feel. AF_PACKET on a veth was measured as
// the alternative and not kept: see docs/benchmarks.md.
package port
