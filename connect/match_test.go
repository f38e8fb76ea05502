package connect_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/connect"
	"github.com/relayhq/relay/sqlite"
)

type ctxKey struct{}

// ctxRecorder is a store that records the context value of each
// connection lookup.
type ctxRecorder struct {
	*sqlite.Store
	seen []any
}

func (s *ctxRecorder) FindConnection(ctx context.Context, provider, externalID string) (*relay.Connection, error) {
	s.seen = append(s.seen, ctx.Value(ctxKey{}))
	return s.Store.FindConnection(ctx, provider, externalID)
}

// Matching runs on the request path: the store lookup behind a cache miss
// must run under the request's context, so that it ends with the request.
func TestMatchLooksUpUnderTheCallersContext(t *testing.T) {
	f := newFixture(t)
	store := &ctxRecorder{Store: f.store}
	svc := connect.New(store, newTestSealer(), []relay.Connector{f.fake}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)),
		f.clock, connect.Config{PublicURL: "https://relay.example"})
	t.Cleanup(svc.Close)

	rctx := context.WithValue(context.Background(), ctxKey{}, "request")
	ev := &relay.Event{Provider: "fake", AccountID: "acct-unknown"}
	svc.Match(rctx, ev)
	if len(store.seen) != 1 || store.seen[0] != "request" {
		t.Fatalf("lookups saw context values %v, want [request]", store.seen)
	}
}
