package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// defaultAddr is the listen address serve uses when none is configured.
const defaultAddr = "127.0.0.1:8080"

// cmdHealthcheck probes a running Relay's /readyz and succeeds only on
// 200. It exists because the container image has no shell, curl or wget:
// the image's HEALTHCHECK runs the binary itself.
func cmdHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "Relay's base URL or the full /readyz URL (default: http:// + RELAY_ADDR, else "+defaultAddr+"; a wildcard host such as 0.0.0.0 is probed on loopback)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: relay healthcheck [--url URL] [--timeout 5s]\n\nAsks a running Relay whether it is ready (GET /readyz): exits 0 when it\nanswers 200, 1 otherwise, with a one-line message either way.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	u, err := readyzURL(*target, getenv("RELAY_ADDR"))
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := probeReady(ctx, u); err != nil {
		return fmt.Errorf("healthcheck: %s: %w", u, err)
	}
	fmt.Fprintf(stdout, "ready: %s\n", u)
	return nil
}

// readyzURL is the URL to probe: target when given (with /readyz added when
// it has no path), else one built from addr (serve's listen address). A
// server listening on every interface is reached on loopback, which is
// where a container's or a unit's health check runs.
func readyzURL(target, addr string) (string, error) {
	if target != "" {
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("--url %q: must be an http:// or https:// URL", target)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/readyz"
		}
		return u.String(), nil
	}
	if addr == "" {
		addr = defaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("RELAY_ADDR %q: must be host:port", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// probeReady gets u and returns nil on 200; otherwise an error saying what
// answered, with the reason /readyz gives when it gives one.
func probeReady(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errors.New("no answer in time")
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is already in the message
		}
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg := resp.Status
	if reason := readyzReason(body); reason != "" {
		msg += ": " + reason
	}
	return errors.New(msg)
}

// readyzReason is the "error" field of a /readyz answer, on one line, or
// "" when the body is not one (a proxy's error page, say).
func readyzReason(body []byte) string {
	var v struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return strings.Join(strings.Fields(v.Error), " ")
}
