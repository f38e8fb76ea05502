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
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// cmdSink runs a local destination that verifies each delivery's Standard
// Webhooks signature and prints one line per event: a stand-in for the
// team's app when trying Relay out.
func cmdSink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "listen address")
	secret := fs.String("secret", "", "the destination's whsec_ secret, to verify signatures (required)")
	status := fs.Int("status", 200, "HTTP status to answer with (e.g. 500 to watch retries)")
	quiet := fs.Bool("quiet", false, "print nothing per delivery")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: relay sink --secret whsec_… [--addr 127.0.0.1:9000] [--status 200]\n\nA local destination for trying Relay: verifies each delivery's signature\n(webhook-id, webhook-timestamp, webhook-signature) and prints a line per event.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		return errors.New("sink: --secret is required (the destination's whsec_ secret)")
	}
	wh, err := standardwebhooks.NewWebhook(*secret)
	if err != nil {
		return fmt.Errorf("sink: --secret: %w", err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := wh.Verify(body, r.Header); err != nil {
			fmt.Fprintf(stdout, "REJECTED %s: %v\n", r.Header.Get("webhook-id"), err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if !*quiet {
			var env struct {
				ID, Type, Source, DeliveryID string
				OrgID                        *string `json:"org_id"`
			}
			_ = json.Unmarshal(body, &env)
			fmt.Fprintf(stdout, "%s verified %s type=%s source=%s bytes=%d\n",
				time.Now().Format("15:04:05.000"), r.Header.Get("webhook-id"), env.Type, env.Source, len(body))
		}
		w.WriteHeader(*status)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "sink listening on http://%s, answering %d\n", ln.Addr(), *status)
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
