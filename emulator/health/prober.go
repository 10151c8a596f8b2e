package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// NetnsProber probes from inside a network namespace: the GWLB node's, so
// probes leave from the node's address as on AWS.
type NetnsProber struct {
	// NetNS is the namespace's path; empty probes from the caller's own.
	NetNS string
}

// dial connects to addr from inside the namespace. The socket stays in the
// namespace when used afterwards from any thread.
func (p NetnsProber) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	if p.NetNS == "" {
		return d.DialContext(ctx, "tcp", addr)
	}
	var c net.Conn
	err := ns.WithNetNSPath(p.NetNS, func(ns.NetNS) error {
		var err error
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// Probe runs one TCP, HTTP or HTTPS check. A TCP check passes when the
// connection opens (and is closed at once); HTTP(S) when the answer's
// status is in the matcher. Certificates are not verified, as on AWS.
func (p NetnsProber) Probe(ctx context.Context, target netip.Addr, hc config.HealthCheck) error {
	addr := net.JoinHostPort(target.String(), strconv.Itoa(hc.Port))
	switch hc.Protocol {
	case "", "TCP":
		c, err := p.dial(ctx, addr)
		if err != nil {
			return err
		}
		return c.Close()
	case "HTTP", "HTTPS":
		m, err := ParseMatcher(hc.Matcher)
		if err != nil {
			return err
		}
		tr := &http.Transport{
			DialContext:       func(ctx context.Context, _, a string) (net.Conn, error) { return p.dial(ctx, a) },
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // AWS does not verify targets' certificates
			DisableKeepAlives: true,                                  // each probe connection is closed after the check
		}
		defer tr.CloseIdleConnections()
		scheme := "http"
		if hc.Protocol == "HTTPS" {
			scheme = "https"
		}
		path := hc.Path
		if path == "" {
			path = "/"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if !m.Match(resp.StatusCode) {
			return fmt.Errorf("http status %d not in %q", resp.StatusCode, hc.Matcher)
		}
		return nil
	}
	return fmt.Errorf("unknown health check protocol %q", hc.Protocol)
}
