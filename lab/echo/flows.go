package echo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FlowSpec is what the traffic client sends: Flows flows, one after the
// other, from the node it runs in to Dest.
type FlowSpec struct {
	Dest     netip.Addr
	Protocol string // http, tcp, udp or icmp
	Port     int
	Flows    int
	// Size is the bytes each flow carries to Dest (0: one plain request).
	Size int
	// Duration, when set, keeps each flow going this long, one exchange
	// every Interval.
	Duration time.Duration
	Interval time.Duration
	// Timeout bounds each exchange (connect, answer).
	Timeout time.Duration
}

// FlowResult is how one flow went: one JSON line of the traffic client.
type FlowResult struct {
	Flow     int    `json:"flow"`
	Protocol string `json:"protocol"`
	// Local and Remote are the flow's addresses as the sender saw them
	// (address:port; the address alone for icmp).
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote"`
	OK     bool   `json:"ok"`
	// Error is the kind of failure: refused, reset, timeout, unreachable
	// or error; Detail says more.
	Error  string `json:"error,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Exchanges counts requests (datagrams, echo requests) sent, Answered
	// those answered.
	Exchanges  int     `json:"exchanges"`
	Answered   int     `json:"answered"`
	BytesSent  int64   `json:"bytes_sent"`
	BytesRecvd int64   `json:"bytes_received"`
	Seconds    float64 `json:"seconds"`
}

// RunFlows sends the flows of s one after the other and calls each with the
// result of every flow as it ends.
func RunFlows(ctx context.Context, s FlowSpec, each func(FlowResult) error) error {
	if s.Flows < 1 {
		s.Flows = 1
	}
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Second
	}
	if s.Interval <= 0 {
		s.Interval = time.Second
	}
	for i := range s.Flows {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		var r FlowResult
		switch s.Protocol {
		case "http", "tcp":
			r = tcpFlow(ctx, s)
		case "udp":
			r = udpFlow(ctx, s)
		case "icmp":
			r = icmpFlow(ctx, s)
		default:
			return fmt.Errorf("protocol %q: use http, tcp, udp or icmp", s.Protocol)
		}
		r.Flow, r.Protocol = i, s.Protocol
		r.Seconds = time.Since(start).Seconds()
		if err := each(r); err != nil {
			return err
		}
	}
	return nil
}

// exchanges returns how many exchanges a flow has: one, or one every
// interval for the duration.
func (s FlowSpec) exchanges() int {
	if s.Duration <= 0 {
		return 1
	}
	return max(1, int(s.Duration/s.Interval)+1)
}

// failKind names an error for the report.
func failKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "error"
}

func (r *FlowResult) fail(err error) {
	r.OK = false
	r.Error, r.Detail = failKind(err), err.Error()
}

// tcpFlow opens one connection. For http, and for tcp with a size or a
// duration, it sends HTTP requests (what the echo server answers) and reads
// each answer; plain tcp only opens and closes the connection.
func tcpFlow(ctx context.Context, s FlowSpec) FlowResult {
	remote := netip.AddrPortFrom(s.Dest, uint16(s.Port)).String()
	r := FlowResult{Remote: remote}
	// The socket is bound before it connects, so that a connection that
	// fails still names its port (the address is the unspecified one then).
	d := net.Dialer{Timeout: s.Timeout, Control: func(_, _ string, c syscall.RawConn) error {
		var berr error
		err := c.Control(func(fd uintptr) {
			var sa syscall.Sockaddr = &syscall.SockaddrInet4{}
			if s.Dest.Is6() {
				sa = &syscall.SockaddrInet6{}
			}
			if berr = syscall.Bind(int(fd), sa); berr != nil {
				return
			}
			got, err := syscall.Getsockname(int(fd))
			if err != nil {
				return
			}
			switch a := got.(type) {
			case *syscall.SockaddrInet4:
				r.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(a.Port)).String()
			case *syscall.SockaddrInet6:
				r.Local = netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(a.Port)).String()
			}
		})
		if err != nil {
			return err
		}
		return berr
	}}
	conn, err := d.DialContext(ctx, "tcp", remote)
	if err != nil {
		r.fail(err)
		return r
	}
	defer conn.Close()
	r.Local = conn.LocalAddr().String()
	if s.Protocol == "tcp" && s.Size == 0 && s.Duration == 0 {
		r.OK = true
		return r
	}
	br := bufio.NewReader(conn)
	n := s.exchanges()
	deadline := time.Now().Add(s.Duration)
	for i := range n {
		if i > 0 {
			wait := s.Interval
			if left := time.Until(deadline); left < wait {
				if left <= 0 {
					break
				}
				wait = left
			}
			select {
			case <-ctx.Done():
				r.fail(ctx.Err())
				return r
			case <-time.After(wait):
			}
		}
		r.Exchanges++
		req := fmt.Sprintf("GET /?format=json HTTP/1.1\r\nHost: %s\r\n\r\n", remote)
		body := 0
		if s.Size > 0 {
			body = s.Size
			req = fmt.Sprintf("POST /?format=json HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", remote, body)
		}
		_ = conn.SetDeadline(time.Now().Add(s.Timeout + time.Duration(body/(1<<20))*time.Second))
		if _, err := io.WriteString(conn, req); err != nil {
			r.fail(err)
			return r
		}
		r.BytesSent += int64(len(req))
		if body > 0 {
			m, err := io.CopyN(conn, zeroes{}, int64(body))
			r.BytesSent += m
			if err != nil {
				r.fail(err)
				return r
			}
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			r.fail(err)
			return r
		}
		m, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r.BytesRecvd += m
		if err != nil {
			r.fail(err)
			return r
		}
		r.Answered++
	}
	r.OK = r.Answered == r.Exchanges
	return r
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// udpFlow sends datagrams from one socket and waits for each echo.
func udpFlow(ctx context.Context, s FlowSpec) FlowResult {
	remote := netip.AddrPortFrom(s.Dest, uint16(s.Port)).String()
	r := FlowResult{Remote: remote}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", remote)
	if err != nil {
		r.fail(err)
		return r
	}
	defer conn.Close()
	r.Local = conn.LocalAddr().String()
	size := max(s.Size, 0)
	buf := make([]byte, 65536)
	deadline := time.Now().Add(s.Duration)
	for i := range s.exchanges() {
		if i > 0 {
			if time.Until(deadline) <= 0 {
				break
			}
			select {
			case <-ctx.Done():
				r.fail(ctx.Err())
				return r
			case <-time.After(min(s.Interval, max(time.Until(deadline), 0))):
			}
		}
		msg := []byte("flow " + strconv.Itoa(i))
		if size > len(msg) {
			msg = append(msg, strings.Repeat("x", size-len(msg))...)
		}
		r.Exchanges++
		if _, err := conn.Write(msg); err != nil {
			r.fail(err)
			return r
		}
		r.BytesSent += int64(len(msg))
		_ = conn.SetReadDeadline(time.Now().Add(s.Timeout))
		n, err := conn.Read(buf)
		if err != nil {
			r.fail(err)
			return r
		}
		r.BytesRecvd += int64(n)
		r.Answered++
	}
	r.OK = r.Answered == r.Exchanges
	return r
}

// icmpFlow runs the node's ping: echo requests with DF set, size bytes of
// payload each.
func icmpFlow(ctx context.Context, s FlowSpec) FlowResult {
	r := FlowResult{Remote: s.Dest.String()}
	count := s.exchanges()
	args := []string{"-n", "-M", "do", "-c", strconv.Itoa(count), "-W", strconv.Itoa(max(1, int(s.Timeout.Round(time.Second)/time.Second)))}
	if count > 1 {
		args = append(args, "-i", strconv.FormatFloat(s.Interval.Seconds(), 'f', 3, 64))
	}
	if s.Size > 0 {
		args = append(args, "-s", strconv.Itoa(s.Size))
	}
	args = append(args, s.Dest.String())
	cmd := exec.CommandContext(ctx, "ping", args...)
	out, err := cmd.CombinedOutput()
	r.Exchanges = count
	r.Answered = pingReceived(string(out))
	payload := int64(56)
	if s.Size > 0 {
		payload = int64(s.Size)
	}
	r.BytesSent = int64(count) * payload
	r.BytesRecvd = int64(r.Answered) * payload
	r.OK = err == nil && r.Answered == count
	if !r.OK {
		r.Error = "timeout"
		if err != nil && !strings.Contains(string(out), "received") {
			r.Error = "error"
		}
		r.Detail = strings.TrimSpace(lastLines(string(out), 2))
	}
	return r
}

// pingReceived reads "N received" from ping's summary.
func pingReceived(out string) int {
	for _, line := range strings.Split(out, "\n") {
		for _, part := range strings.Split(line, ",") {
			part = strings.TrimSpace(part)
			if n, ok := strings.CutSuffix(part, " received"); ok {
				v, _ := strconv.Atoi(n)
				return v
			}
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
