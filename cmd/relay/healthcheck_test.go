package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The probed URL: --url wins (with /readyz added to a bare base URL), else
// RELAY_ADDR, whose wildcard hosts are probed on loopback.
func TestReadyzURL(t *testing.T) {
	for _, tc := range []struct{ target, addr, want string }{
		{"", "", "http://127.0.0.1:8080/readyz"},
		{"", "0.0.0.0:8080", "http://127.0.0.1:8080/readyz"},
		{"", ":9000", "http://127.0.0.1:9000/readyz"},
		{"", "[::]:8080", "http://[::1]:8080/readyz"},
		{"", "10.0.0.5:8081", "http://10.0.0.5:8081/readyz"},
		{"http://relay:8080", "0.0.0.0:1", "http://relay:8080/readyz"},
		{"https://relay.example.com/", "", "https://relay.example.com/readyz"},
		{"http://127.0.0.1:8080/readyz", "", "http://127.0.0.1:8080/readyz"},
	} {
		got, err := readyzURL(tc.target, tc.addr)
		if err != nil || got != tc.want {
			t.Errorf("readyzURL(%q, %q) = %q, %v; want %q", tc.target, tc.addr, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ target, addr string }{{"relay:8080", ""}, {"ftp://relay/", ""}, {"", "localhost"}} {
		if got, err := readyzURL(tc.target, tc.addr); err == nil {
			t.Errorf("readyzURL(%q, %q) = %q; want an error", tc.target, tc.addr, got)
		}
	}
}

// healthcheck runs `relay healthcheck args…` with RELAY_ADDR set to addr.
func healthcheck(addr string, args ...string) (stdout, stderr string, err error) {
	var out, errOut strings.Builder
	getenv := func(k string) string {
		if k == "RELAY_ADDR" {
			return addr
		}
		return ""
	}
	err = run(context.Background(), append([]string{"relay", "healthcheck"}, args...), getenv, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// A Relay that answers 503 fails the check, with /readyz's reason on one line.
func TestHealthcheckNotReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","error":"events cannot be stored now (disk full or database failing)"}`))
	}))
	defer srv.Close()
	_, _, err := healthcheck("", "--url", srv.URL)
	if err == nil {
		t.Fatal("healthcheck of a 503 /readyz succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "503") || !strings.Contains(msg, "events cannot be stored now") || strings.Contains(msg, "\n") {
		t.Errorf("message = %q; want one line with the status and the reason", msg)
	}
}

// Nothing listening fails the check too.
func TestHealthcheckNothingListening(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	if _, _, err := healthcheck(addr); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("healthcheck of a closed port = %v; want an error naming %s", err, addr)
	}
}

// Against a real `relay serve`, found through RELAY_ADDR as the container's
// HEALTHCHECK finds it: the check passes and says so in one line.
func TestHealthcheckAgainstServe(t *testing.T) {
	p := startRelay(t, "log_level: warn\n", nil)
	addr := strings.TrimPrefix(p.url, "http://")
	out, _, err := healthcheck(addr)
	if err != nil {
		t.Fatalf("healthcheck: %v", err)
	}
	if want := "ready: " + p.url + "/readyz\n"; out != want {
		t.Errorf("stdout = %q; want %q", out, want)
	}
}

func TestHealthcheckHelp(t *testing.T) {
	_, stderr, err := healthcheck("", "--help")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "Usage: relay healthcheck") || !strings.Contains(stderr, "-url") {
		t.Errorf("--help: err %v, stderr %q", err, stderr)
	}
}
