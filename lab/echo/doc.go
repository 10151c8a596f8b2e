// Package echo is the small server that lab nodes run to show what reached
// them: an HTTP server whose answer names the peer's address as the node saw
// it (so a test sees whether anything translated it on the way), and a UDP
// echo that does the same. Probe is its client for UDP.
//
// It answers in plain text by default because users read it with curl; JSON
// is one query parameter away for scripts.
package echo
