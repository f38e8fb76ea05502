package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// testConnectSessions: a session is found by id and by its token's hash,
// round-trips its fields, and records each provider's connection once,
// even when two callbacks race.
func testConnectSessions(t *testing.T, s relay.Store) {
	ss, ok := s.(relay.ConnectSessionStore)
	if !ok {
		t.Skip("this store does not implement relay.ConnectSessionStore")
	}
	in := &relay.ConnectSession{ID: "cs_1", OrgID: "org_a", Providers: []string{"github", "linear"},
		ReturnURL: "https://app.example/done", ExpiresAt: t0.Add(30 * time.Minute), CreatedAt: t0}
	must(t, ss.CreateConnectSession(ctx, in, "hash-1"))
	code(t, ss.CreateConnectSession(ctx, &relay.ConnectSession{ID: "cs_2", OrgID: "org_a", ExpiresAt: t0, CreatedAt: t0}, "hash-1"),
		relay.ECONFLICT)
	code(t, ss.CreateConnectSession(ctx, in, "hash-other"), relay.ECONFLICT)

	check := func(got *relay.ConnectSession, err error, connected map[string]string) {
		t.Helper()
		if err != nil || got.ID != "cs_1" || got.OrgID != "org_a" || len(got.Providers) != 2 || got.Providers[1] != "linear" ||
			got.ReturnURL != in.ReturnURL || !got.ExpiresAt.Equal(in.ExpiresAt) || !got.CreatedAt.Equal(t0) ||
			len(got.Connected) != len(connected) {
			t.Fatalf("session %+v %v", got, err)
		}
		for p, c := range connected {
			if got.Connected[p] != c {
				t.Fatalf("connected %v, want %v", got.Connected, connected)
			}
		}
	}
	got, err := ss.GetConnectSession(ctx, "cs_1")
	check(got, err, nil)
	got, err = ss.GetConnectSessionByToken(ctx, "hash-1")
	check(got, err, nil)
	_, err = ss.GetConnectSession(ctx, "cs_nope")
	code(t, err, relay.ENOTFOUND)
	_, err = ss.GetConnectSessionByToken(ctx, "hash-nope")
	code(t, err, relay.ENOTFOUND)
	code(t, ss.AddSessionConnection(ctx, "cs_nope", "github", "conn_x", t0), relay.ENOTFOUND)

	// Of concurrent callbacks for one provider, exactly one is recorded.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "conn_" + string(rune('a'+i))
			switch err := ss.AddSessionConnection(ctx, "cs_1", "github", id, t0.Add(time.Minute)); {
			case err == nil:
				mu.Lock()
				won = append(won, id)
				mu.Unlock()
			case relay.ErrorCode(err) != relay.ECONFLICT:
				t.Errorf("add: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d connections recorded for one provider", len(won))
	}
	must(t, ss.AddSessionConnection(ctx, "cs_1", "linear", "conn_lin", t0.Add(time.Minute)))
	got, err = ss.GetConnectSessionByToken(ctx, "hash-1")
	check(got, err, map[string]string{"github": won[0], "linear": "conn_lin"})

	// Creating a session sweeps those expired for a day, with their
	// connections; the others stay.
	must(t, ss.CreateConnectSession(ctx, &relay.ConnectSession{ID: "cs_3", OrgID: "org_a", Providers: []string{"github"},
		ReturnURL: "https://app.example/done", ExpiresAt: t0.Add(48 * time.Hour), CreatedAt: t0.Add(25 * time.Hour)}, "hash-3"))
	_, err = ss.GetConnectSession(ctx, "cs_1")
	code(t, err, relay.ENOTFOUND)
	if got, err := ss.GetConnectSession(ctx, "cs_3"); err != nil || len(got.Connected) != 0 {
		t.Fatalf("kept session %+v %v", got, err)
	}
}
