package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// testOAuthStateBinding: a start link binds its state to one browser, once;
// reading the state does not use it up.
func testOAuthStateBinding(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	st := &relay.OAuthState{State: "s1", Provider: "linear", OrgID: "org_a", ReturnURL: "https://app/x", CodeVerifier: "v",
		StartHash: "start-1", ExpiresAt: t0.Add(10 * time.Minute), CreatedAt: t0}
	must(t, cs.CreateOAuthState(ctx, st))
	must(t, cs.CreateOAuthState(ctx, &relay.OAuthState{State: "s2", Provider: "linear", OrgID: "org_a", ReturnURL: "https://app/x",
		StartHash: "start-2", ExpiresAt: t0.Add(10 * time.Minute), CreatedAt: t0}))

	got, err := cs.GetOAuthState(ctx, "s1")
	if err != nil || got.StartHash != "start-1" || got.BindingHash != "" || got.OrgID != "org_a" || !got.ExpiresAt.Equal(st.ExpiresAt) {
		t.Fatalf("get before binding: %+v %v", got, err)
	}
	_, err = cs.GetOAuthState(ctx, "nope")
	code(t, err, relay.ENOTFOUND)
	_, err = cs.BindOAuthState(ctx, "no-such-start", "b0")
	code(t, err, relay.ENOTFOUND)

	// Of concurrent browsers opening the same start link, exactly one is bound.
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := map[string]bool{}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := "binding-" + string(rune('a'+i))
			got, err := cs.BindOAuthState(ctx, "start-1", b)
			switch {
			case err == nil:
				if got.State != "s1" || got.BindingHash != b || got.CodeVerifier != "v" || got.Provider != "linear" {
					t.Errorf("bound state %+v", got)
				}
				mu.Lock()
				winners[b] = true
				mu.Unlock()
			case relay.ErrorCode(err) != relay.ECONFLICT:
				t.Errorf("bind: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d browsers bound to one start link", len(winners))
	}
	var winner string
	for b := range winners {
		winner = b
	}
	_, err = cs.BindOAuthState(ctx, "start-1", "late")
	code(t, err, relay.ECONFLICT)
	if got, err := cs.GetOAuthState(ctx, "s1"); err != nil || got.BindingHash != winner {
		t.Fatalf("get after binding: %+v %v", got, err)
	}
	// The other flow is untouched.
	if got, err := cs.GetOAuthState(ctx, "s2"); err != nil || got.BindingHash != "" {
		t.Fatalf("other state: %+v %v", got, err)
	}

	taken, err := cs.TakeOAuthState(ctx, "s1")
	if err != nil || taken.BindingHash != winner || taken.StartHash != "start-1" {
		t.Fatalf("take: %+v %v", taken, err)
	}
	_, err = cs.GetOAuthState(ctx, "s1")
	code(t, err, relay.ENOTFOUND)
	_, err = cs.BindOAuthState(ctx, "start-1", "after")
	code(t, err, relay.ENOTFOUND)
}

// testConnectionGeneration: every store method that changes which org an
// account or resource routes to increases the generation, and a change
// that fails does not.
func testConnectionGeneration(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	last, err := cs.ConnectionGeneration(ctx)
	must(t, err)
	moved := func(what string) {
		t.Helper()
		g, err := cs.ConnectionGeneration(ctx)
		must(t, err)
		if g <= last {
			t.Fatalf("%s: generation %d, was %d: it did not move", what, g, last)
		}
		last = g
	}
	still := func(what string) {
		t.Helper()
		g, err := cs.ConnectionGeneration(ctx)
		must(t, err)
		if g != last {
			t.Fatalf("%s: generation %d, was %d", what, g, last)
		}
	}

	c := &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "gen-1", Status: relay.ConnectionActive, UpdatedAt: t0}
	_, err = cs.UpsertConnection(ctx, c, sealed(sealedToken("t", t0.Add(time.Hour))), []*relay.Resource{{ExternalID: "r1", Kind: "repository"}})
	must(t, err)
	moved("UpsertConnection (create)")
	_, err = cs.UpsertConnection(ctx, &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "gen-1",
		Status: relay.ConnectionActive, UpdatedAt: t0}, nil, nil)
	must(t, err)
	moved("UpsertConnection (update)")
	_, err = cs.UpsertConnection(ctx, &relay.Connection{OrgID: "org_b", Provider: "github", ExternalID: "gen-1",
		Status: relay.ConnectionActive, UpdatedAt: t0}, nil, nil)
	code(t, err, relay.ECONFLICT)
	still("UpsertConnection refused")

	must(t, cs.SetConnectionStatus(ctx, c.ID, relay.ConnectionSuspended, "suspended", t0))
	moved("SetConnectionStatus")
	code(t, cs.SetConnectionStatus(ctx, "con_missing", relay.ConnectionSuspended, "", t0), relay.ENOTFOUND)
	still("SetConnectionStatus of a missing connection")

	must(t, cs.UpdateResources(ctx, c.ID, []*relay.Resource{{ExternalID: "r2", Kind: "repository"}}, []string{"r1"}, t0))
	moved("UpdateResources")
	code(t, cs.UpdateResources(ctx, "con_missing", nil, []string{"r1"}, t0), relay.ENOTFOUND)
	still("UpdateResources of a missing connection")

	// Metadata and teardown progress do not change routing.
	must(t, cs.SetConnectionMetadata(ctx, c.ID, map[string]string{"k": "v"}, t0))
	must(t, cs.SetTeardown(ctx, c.ID, "pending", t0))
	still("metadata and teardown progress")

	must(t, cs.DeleteConnection(ctx, c.ID, t0))
	moved("DeleteConnection")
	code(t, cs.DeleteConnection(ctx, "con_missing", t0), relay.ENOTFOUND)
	still("DeleteConnection of a missing connection")

	if rs, ok := s.(relay.ResolutionStore); ok {
		_, err := rs.PairConnection(ctx, &relay.Connection{OrgID: "org_b", Provider: "github", ExternalID: "gen-1", UpdatedAt: t0})
		must(t, err)
		moved("PairConnection (revive)")
		_, err = rs.PairConnection(ctx, &relay.Connection{OrgID: "org_b", Provider: "github", ExternalID: "gen-2", UpdatedAt: t0})
		must(t, err)
		moved("PairConnection (new)")
		_, err = rs.PairConnection(ctx, &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "gen-2", UpdatedAt: t0})
		code(t, err, relay.ECONFLICT)
		still("PairConnection refused")
	}
}
