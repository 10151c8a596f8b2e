// Package wirecheck cross-checks the emulator's GWLB encapsulation against
// independent decoders: it writes frames built by emulator/packet to a pcap
// file and asserts what Debian's tshark and tcpdump make of them (the same
// tools, and the same output, as captures of real GWLB traffic; spec §2.1,
// §12). It needs the two tools but no root and no namespaces.
//
// Trade-off: the assertions are tied to the output of the tool versions the
// lab targets (tshark 4.0, tcpdump 4.99, Debian 12). A newer tool that
// renders differently fails loudly here rather than passing silently, and
// the suite proves its checks bite by feeding them frames built wrong.
package wirecheck
