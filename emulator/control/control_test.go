package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServerClient(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "control.sock")
	s := NewServer(sock)
	s.Handle("GET /v1/hello", func(*http.Request) (any, error) {
		return map[string]int{"n": 42}, nil
	})
	s.Handle("GET /v1/missing", func(*http.Request) (any, error) {
		return nil, fmt.Errorf("node %q: %w", "x", ErrNotFound)
	})
	s.Handle("POST /v1/echo", func(r *http.Request) (any, error) {
		var in map[string]string
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return in, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("socket left behind: %v", err)
		}
	}()

	c := NewClient(sock)
	var out map[string]int
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Get(ctx, "/v1/hello", &out)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never answered: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if out["n"] != 42 {
		t.Fatalf("got %v", out)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	// The sentinel decides the status and errors.Is; it must not stutter
	// into the text ("not found: node \"x\": not found").
	if err := c.Get(ctx, "/v1/missing", nil); !errors.Is(err, ErrNotFound) || err.Error() != `node "x": not found` {
		t.Fatalf("missing: %v", err)
	}
	var echo map[string]string
	if err := c.Post(ctx, "/v1/echo", map[string]string{"a": "b"}, &echo); err != nil || echo["a"] != "b" {
		t.Fatalf("echo: %v %v", echo, err)
	}
	if err := c.Post(ctx, "/v1/echo", "not an object", nil); !errors.Is(err, ErrBadRequest) || strings.Count(err.Error(), "bad request") != 1 {
		t.Fatalf("bad body: %v", err)
	}
}
