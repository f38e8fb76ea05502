package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// resolutionStore returns s as a ResolutionStore, or skips the test.
func resolutionStore(t *testing.T, s relay.Store) relay.ResolutionStore {
	t.Helper()
	rs, ok := s.(relay.ResolutionStore)
	if !ok {
		t.Skip("this store does not implement relay.ResolutionStore")
	}
	return rs
}

func testPairConnection(t *testing.T, s relay.Store) {
	rs, cs := resolutionStore(t, s), connStore(t, s)
	c := &relay.Connection{OrgID: "org_a", Provider: "bridge", ExternalID: "cust_1", AccountName: "a@example.com", UpdatedAt: t0}
	got, err := rs.PairConnection(ctx, c)
	must(t, err)
	if got.ID == "" || got.Status != relay.ConnectionActive || !got.CreatedAt.Equal(t0) {
		t.Fatalf("paired %+v", got)
	}
	found, err := cs.FindConnection(ctx, "bridge", "cust_1")
	if err != nil || found.ID != got.ID || found.OrgID != "org_a" {
		t.Fatalf("find %+v %v", found, err)
	}
	// The account is paired: another org's pairing changes nothing and
	// names the connection that won.
	again, err := rs.PairConnection(ctx, &relay.Connection{OrgID: "org_b", Provider: "bridge", ExternalID: "cust_1", UpdatedAt: t0.Add(time.Second)})
	code(t, err, relay.ECONFLICT)
	if again == nil || again.ID != got.ID || again.OrgID != "org_a" {
		t.Fatalf("conflict returned %+v", again)
	}
	// A deleted connection is revived, keeping its row.
	must(t, cs.DeleteConnection(ctx, got.ID, t0.Add(time.Minute)))
	revived, err := rs.PairConnection(ctx, &relay.Connection{OrgID: "org_b", Provider: "bridge", ExternalID: "cust_1", UpdatedAt: t0.Add(2 * time.Minute)})
	must(t, err)
	if revived.ID != got.ID || revived.OrgID != "org_b" || revived.DeletedAt != nil || revived.Status != relay.ConnectionActive {
		t.Fatalf("revived %+v", revived)
	}
	if c, err := cs.GetConnection(ctx, got.ID, "org_b"); err != nil || c.DeletedAt != nil || c.Status != relay.ConnectionActive {
		t.Fatalf("after revival %+v %v", c, err)
	}
}

func testPairConnectionConcurrent(t *testing.T, s relay.Store) {
	rs, cs := resolutionStore(t, s), connStore(t, s)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := rs.PairConnection(ctx, &relay.Connection{OrgID: fmt.Sprintf("org_%d", i%2), Provider: "bridge",
				ExternalID: "cust_race", UpdatedAt: t0})
			errs[i] = err
			if c != nil {
				ids[i] = c.ID
			}
		}()
	}
	wg.Wait()
	won := 0
	for i := range ids {
		switch {
		case errs[i] == nil:
			won++
		case relay.ErrorCode(errs[i]) != relay.ECONFLICT:
			t.Fatalf("pairing %d: %v", i, errs[i])
		}
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("pairing %d named connection %q, want %q", i, ids[i], ids[0])
		}
	}
	list, err := cs.ListConnections(ctx, relay.ConnectionFilter{Provider: "bridge"})
	if won != 1 || err != nil || len(list) != 1 {
		t.Fatalf("%d pairings won, %d connections (%v)", won, len(list), err)
	}
}

func testResolutions(t *testing.T, s relay.Store) {
	rs := resolutionStore(t, s)
	_, err := rs.GetResolution(ctx, "bridge", "cust_1")
	code(t, err, relay.ENOTFOUND)
	r := &relay.Resolution{Provider: "bridge", AccountID: "cust_1", Outcome: relay.ResolveUnresolved, Resolver: "bridge_customer", UpdatedAt: t0}
	must(t, rs.PutResolution(ctx, r))
	if r.Attempts != 1 {
		t.Fatalf("attempts %d", r.Attempts)
	}
	r2 := &relay.Resolution{Provider: "bridge", AccountID: "cust_1", Outcome: relay.ResolveAmbiguous, Candidates: []string{"org_a", "org_b"},
		Resolver: "persona_accounts_by_email", UpdatedAt: t0.Add(time.Minute)}
	must(t, rs.PutResolution(ctx, r2))
	got, err := rs.GetResolution(ctx, "bridge", "cust_1")
	must(t, err)
	if got.Attempts != 2 || got.Outcome != relay.ResolveAmbiguous || len(got.Candidates) != 2 || got.Candidates[1] != "org_b" ||
		got.Resolver != "persona_accounts_by_email" || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("resolution %+v", got)
	}
	must(t, rs.PutResolution(ctx, &relay.Resolution{Provider: "persona", AccountID: "act_1", Outcome: relay.ResolvePaired,
		OrgID: "org_a", ConnectionID: "con_1", UpdatedAt: t0.Add(2 * time.Minute)}))
	all, err := rs.ListResolutions(ctx, "", 10)
	must(t, err)
	if len(all) != 2 || all[0].Provider != "persona" || all[0].Candidates != nil || all[0].ConnectionID != "con_1" {
		t.Fatalf("list %+v", all)
	}
	one, err := rs.ListResolutions(ctx, "bridge", 10)
	if err != nil || len(one) != 1 || one[0].AccountID != "cust_1" {
		t.Fatalf("list bridge %+v %v", one, err)
	}
}

func testHeldAccounts(t *testing.T, s relay.Store) {
	rs := resolutionStore(t, s)
	var latestA string
	for i, acct := range []string{"A", "B", "A", "", "A"} {
		it := item("bridge", fmt.Sprintf("held-%d", i), "customer.updated", "", t0.Add(time.Duration(i)*time.Second))
		it.Event.AccountID, it.Event.Match = acct, relay.MatchUnmatched
		if acct == "" {
			it.Event.AccountID, it.Event.Match = "C", relay.MatchMatched
		}
		if acct == "A" {
			latestA = it.Event.ID
		}
		insert(t, s, it)
	}
	other := item("github", "held-gh", "issues.opened", "", t0)
	other.Event.AccountID, other.Event.Match = "G", relay.MatchUnmatched
	insert(t, s, other)

	got, err := rs.HeldAccounts(ctx, []string{"bridge"}, 10)
	must(t, err)
	if len(got) != 2 || got[0].AccountID != "A" || got[0].LatestEventID != latestA || got[1].AccountID != "B" {
		t.Fatalf("held accounts %+v", got)
	}
	if got, _ := rs.HeldAccounts(ctx, []string{"bridge", "github"}, 10); len(got) != 3 {
		t.Fatalf("two providers: %+v", got)
	}
	if got, _ := rs.HeldAccounts(ctx, []string{"bridge"}, 1); len(got) != 1 {
		t.Fatalf("limit: %+v", got)
	}
	if got, err := rs.HeldAccounts(ctx, nil, 10); err != nil || len(got) != 0 {
		t.Fatalf("no providers: %+v %v", got, err)
	}
}
