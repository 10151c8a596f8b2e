package echo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Answer is what the server reports about one request.
type Answer struct {
	Node   string `json:"node"`
	Proto  string `json:"proto"`
	Remote string `json:"remote"`
	Local  string `json:"local"`
	Data   string `json:"data,omitempty"`
}

// Text renders the answer the way the server prints it.
func (a Answer) Text() string {
	s := fmt.Sprintf("node %s\nproto %s\nremote %s\nlocal %s\n", a.Node, a.Proto, a.Remote, a.Local)
	if a.Data != "" {
		s += "data " + a.Data + "\n"
	}
	return s
}

// Server serves HTTP on HTTPAddr and UDP echo on UDPAddr (either may be empty).
type Server struct {
	Node     string
	HTTPAddr string
	UDPAddr  string
}

// Run serves until ctx ends.
func (s Server) Run(ctx context.Context) error {
	if s.Node == "" {
		s.Node, _ = os.Hostname()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	n := 0
	if s.HTTPAddr != "" {
		ln, err := net.Listen("tcp", s.HTTPAddr)
		if err != nil {
			return err
		}
		n++
		srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			<-ctx.Done()
			_ = srv.Close()
		}()
		go func() {
			err := srv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	if s.UDPAddr != "" {
		pc, err := net.ListenPacket("udp", s.UDPAddr)
		if err != nil {
			return err
		}
		n++
		go func() {
			<-ctx.Done()
			_ = pc.Close()
		}()
		go func() { errc <- s.serveUDP(ctx, pc) }()
	}
	if n == 0 {
		return errors.New("nothing to serve: give an HTTP or a UDP address")
	}
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

func (s Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local := ""
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			local = a.String()
		}
		a := Answer{Node: s.Node, Proto: "http", Remote: r.RemoteAddr, Local: local}
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(a)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(a.Text()))
	})
}

func (s Server) serveUDP(ctx context.Context, pc net.PacketConn) error {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		a := Answer{Node: s.Node, Proto: "udp", Remote: from.String(), Local: pc.LocalAddr().String(), Data: strings.TrimSpace(string(buf[:n]))}
		_, _ = pc.WriteTo([]byte(a.Text()), from)
	}
}

// ProbeUDP sends msg to addr and returns the echo server's answer, trying
// again until ctx ends (UDP may be lost while a path comes up).
func ProbeUDP(ctx context.Context, addr, msg string, every time.Duration) (string, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	buf := make([]byte, 65535)
	for {
		// A write may fail with the ICMP error an earlier try provoked
		// (connection refused); the loop simply tries again.
		_, _ = conn.Write([]byte(msg))
		deadline := time.Now().Add(every)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("no answer from %s: %w", addr, ctx.Err())
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			// Refused and the like: wait out the interval, then try again.
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("no answer from %s: %w", addr, err)
			case <-time.After(time.Until(deadline)):
			}
		}
	}
}
