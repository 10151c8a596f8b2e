package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// HandlerFunc answers one request with a value to encode as JSON, or an error.
// An error wrapping ErrNotFound gives 404, ErrBadRequest 400, others 500.
type HandlerFunc func(r *http.Request) (any, error)

// Sentinel errors that handlers return to pick the HTTP status.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadRequest = errors.New("bad request")
)

// kindError gives an error one of the sentinel errors above, for its HTTP
// status and for errors.Is, without putting the sentinel's text into its
// message: "not found: node \"x\": not found" helps nobody.
type kindError struct {
	err  error
	kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// NotFound marks err as ErrNotFound (status 404), keeping its text.
func NotFound(err error) error { return &kindError{err: err, kind: ErrNotFound} }

// BadRequest marks err as ErrBadRequest (status 400), keeping its text.
func BadRequest(err error) error { return &kindError{err: err, kind: ErrBadRequest} }

// Server serves the control API on a Unix socket.
type Server struct {
	mux  *http.ServeMux
	path string
}

// NewServer returns a server that will listen on the socket at path.
func NewServer(path string) *Server {
	return &Server{mux: http.NewServeMux(), path: path}
}

// Handle registers fn for a pattern of http.ServeMux ("GET /v1/status").
func (s *Server) Handle(pattern string, fn HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			code := http.StatusInternalServerError
			switch {
			case errors.Is(err, ErrNotFound):
				code = http.StatusNotFound
			case errors.Is(err, ErrBadRequest):
				code = http.StatusBadRequest
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	})
}

// HandleStream registers a plain HTTP handler, for answers that are not
// one JSON value (a capture streamed as pcap).
func (s *Server) HandleStream(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
}

// Run listens and serves until ctx ends. The socket file is created with mode
// 0600 and removed on return.
func (s *Server) Run(ctx context.Context) error {
	_ = os.Remove(s.path) // a stale socket of a crashed emulator
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		return fmt.Errorf("control socket %q: %w", s.path, err)
	}
	defer os.Remove(s.path)
	if err := os.Chmod(s.path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket %q: %w", s.path, err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		return nil
	case err := <-done:
		return err
	}
}

// Client talks to a lab's control socket.
type Client struct {
	hc     *http.Client
	stream *http.Client // no overall timeout: streams last as long as asked
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, stream: &http.Client{Transport: tr}}
}

// Stream fetches path and returns the answer's body as it arrives; the
// caller closes it. Cancelling ctx ends the stream.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://emulator"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, fmt.Errorf("emulator control socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct{ Error string }
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e)
		switch resp.StatusCode {
		case http.StatusNotFound:
			return nil, NotFound(errors.New(e.Error))
		case http.StatusBadRequest:
			return nil, BadRequest(errors.New(e.Error))
		}
		return nil, fmt.Errorf("emulator: %s (%s)", e.Error, resp.Status)
	}
	return resp.Body, nil
}

// Get fetches path ("/v1/status") and decodes the JSON answer into out.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

// Post sends in as JSON to path and decodes the answer into out (if non-nil).
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPost, path, in, out)
}

// Put sends in as JSON to path with PUT and decodes the answer into out
// (if non-nil).
func (c *Client) Put(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPut, path, in, out)
}

// Patch sends in as JSON to path with PATCH and decodes the answer into out
// (if non-nil).
func (c *Client) Patch(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPatch, path, in, out)
}

// Delete sends DELETE to path and decodes the answer into out (if non-nil).
func (c *Client) Delete(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodDelete, path, nil, out)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://emulator"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("emulator control socket: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		switch resp.StatusCode {
		case http.StatusNotFound:
			return NotFound(errors.New(e.Error))
		case http.StatusBadRequest:
			return BadRequest(errors.New(e.Error))
		}
		return fmt.Errorf("emulator: %s", e.Error)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Decode reads a JSON request body into v; a malformed body is ErrBadRequest.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}
