// Package pcap writes and reads classic libpcap capture files (the format of
// https://www.tcpdump.org/manpages/pcap-savefile.5.html, also
// draft-ietf-opsawg-pcap), so the emulator can record what crosses a port
// and tests can hand frames to tshark and tcpdump.
//
// Trade-off: it knows only the classic format, not pcapng. That is enough for
// every tool the lab drives (tcpdump, tshark, Wireshark read it), fits in a
// page and needs only the standard library. The writer always produces
// little-endian microsecond files; the reader accepts both byte orders and
// both microsecond and nanosecond resolution.
package pcap
