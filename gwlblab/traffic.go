package gwlblab

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Traffic helpers: each makes one attempt from inside a node and returns
// an error (a *TrafficError) when it did not get through. Retry with your
// own loop (or Gomega's Eventually) while a path comes up.

// TrafficError is an attempt that did not get through.
type TrafficError struct {
	Node, What string
	Result     Result
}

func (e *TrafficError) Error() string {
	msg := strings.TrimSpace(lastLines(e.Result.Stderr, 3))
	if msg == "" {
		msg = strings.TrimSpace(lastLines(e.Result.Stdout, 3))
	}
	return fmt.Sprintf("%s from %s: exit status %d: %s", e.What, e.Node, e.Result.Code, msg)
}

// Timeout bounds each traffic attempt.
const trafficTimeout = 3 * time.Second

func (l *Lab) attempt(ctx context.Context, node, what string, argv ...string) (string, error) {
	res, err := l.Exec(ctx, node, argv...)
	if err != nil {
		return "", err
	}
	if res.Code != 0 {
		return res.Stdout, &TrafficError{Node: node, What: what, Result: res}
	}
	return res.Stdout, nil
}

// Curl fetches url from node with curl (at most 3 s; extra arguments go
// before the URL) and returns the body.
func (l *Lab) Curl(ctx context.Context, node, url string, extra ...string) (string, error) {
	argv := append([]string{"curl", "-sS", "--max-time", strconv.Itoa(int(trafficTimeout / time.Second))}, extra...)
	return l.attempt(ctx, node, "curl "+url, append(argv, url)...)
}

// TCP opens a TCP connection from node to addr:port (at most 3 s) and
// closes it: nil says the three-way handshake completed.
func (l *Lab) TCP(ctx context.Context, node, addr string, port int) error {
	hp := net.JoinHostPort(addr, strconv.Itoa(port))
	_, err := l.attempt(ctx, node, "tcp connect to "+hp, l.bin, "probe", "--tcp", "--timeout", trafficTimeout.String(), hp)
	return err
}

// UDP sends msg from node to the echo server at addr:port, resending until
// an answer comes (at most 10 s), and returns the answer.
func (l *Lab) UDP(ctx context.Context, node, addr string, port int, msg string) (string, error) {
	hp := net.JoinHostPort(addr, strconv.Itoa(port))
	return l.attempt(ctx, node, "udp probe of "+hp, l.bin, "probe", "--timeout", "10s", "--message", msg, hp)
}

// Ping sends one ICMP echo from node to addr (at most 2 s for the answer);
// extra arguments go to ping before the address (-6, -s SIZE, -M do).
func (l *Lab) Ping(ctx context.Context, node, addr string, extra ...string) error {
	argv := append([]string{"ping", "-n", "-c", "1", "-W", "2"}, extra...)
	_, err := l.attempt(ctx, node, "ping "+addr, append(argv, addr)...)
	return err
}
