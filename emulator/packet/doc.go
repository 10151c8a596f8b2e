// Package packet owns the wire formats of gwlb-lab: zero-copy []byte views of
// Ethernet, ARP, IPv4, IPv6, ICMP, ICMPv6, UDP, TCP and GENEVE with the AWS
// options (class 0x0108), the Internet checksum, the in-place GWLB
// encapsulation and decapsulation, and the flow-key extractor.
//
// A view is a named []byte with offset constants and an ASCII diagram of the
// header it reads. Validate is called once at the edge; after it succeeds the
// accessors and setters index without further checks and never copy payloads.
// Accessors on unvalidated bytes may panic. Conditions the data plane acts on
// (a drop reason to count) are sentinel errors, returned unwrapped so that the
// decode path never allocates.
//
// Trade-off: views buy speed and zero allocation at the price of safety by
// convention (validate first, keep the buffer alive and unshared while a view
// is in use). The package imports only the standard library so that every
// part of the lab, and fuzzing, can use it without dragging anything in.
package packet
