package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// connStore returns s as a ConnectionStore, or skips the test.
func connStore(t *testing.T, s relay.Store) relay.ConnectionStore {
	t.Helper()
	cs, ok := s.(relay.ConnectionStore)
	if !ok {
		t.Skip("this store does not implement relay.ConnectionStore")
	}
	return cs
}

func sealedToken(v string, exp time.Time) *relay.SealedToken {
	return &relay.SealedToken{Sealed: relay.Sealed{KeyID: "k1", Ciphertext: []byte("sealed:" + v)}, ExpiresAt: exp}
}

func testOrgsAndStates(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	must(t, cs.CreateOrg(ctx, &relay.Org{ID: "org_b", Name: "B", CreatedAt: t0}))
	must(t, cs.CreateOrg(ctx, &relay.Org{ID: "org_a", Name: "A", CreatedAt: t0}))
	if err := cs.CreateOrg(ctx, &relay.Org{ID: "org_a", Name: "again", CreatedAt: t0}); relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("duplicate org: %v", err)
	}
	o, err := cs.GetOrg(ctx, "org_a")
	if err != nil || o.Name != "A" || !o.CreatedAt.Equal(t0) {
		t.Fatalf("get org %+v %v", o, err)
	}
	if _, err := cs.GetOrg(ctx, "nope"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("missing org: %v", err)
	}
	orgs, _ := cs.ListOrgs(ctx)
	if len(orgs) != 2 || orgs[0].ID != "org_a" {
		t.Fatalf("orgs %v", orgs)
	}

	st := &relay.OAuthState{State: "s1", Provider: "linear", OrgID: "org_a", ReturnURL: "https://app/x", CodeVerifier: "v",
		ExpiresAt: t0.Add(10 * time.Minute), CreatedAt: t0}
	must(t, cs.CreateOAuthState(ctx, st))
	// Of concurrent takers, exactly one gets the state.
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := cs.TakeOAuthState(ctx, "s1"); err == nil {
				mu.Lock()
				got++
				mu.Unlock()
				if s.CodeVerifier != "v" || s.OrgID != "org_a" || !s.ExpiresAt.Equal(st.ExpiresAt) {
					t.Errorf("state %+v", s)
				}
			} else if relay.ErrorCode(err) != relay.ENOTFOUND {
				t.Errorf("take: %v", err)
			}
		}()
	}
	wg.Wait()
	if got != 1 {
		t.Fatalf("state taken %d times", got)
	}
}

func testConnectionLifecycle(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	c := &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "42", AccountName: "octo", Status: relay.ConnectionActive,
		Metadata: map[string]string{"target_type": "Organization"}, UpdatedAt: t0}
	tok := sealedToken("t1", t0.Add(time.Hour))
	created, err := cs.UpsertConnection(ctx, c, tok, []*relay.Resource{{ExternalID: "r1", Kind: "repository", Name: "o/a"}, {ExternalID: "r2", Kind: "repository"}})
	if err != nil || !created || c.ID == "" || tok.Version != 1 {
		t.Fatalf("create: %v %v %+v", created, err, tok)
	}
	got, err := cs.GetConnection(ctx, c.ID, "org_a")
	if err != nil || got.ExternalID != "42" || got.Metadata["target_type"] != "Organization" || !got.TokenExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("get %+v %v", got, err)
	}
	if _, err := cs.GetConnection(ctx, c.ID, "org_b"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("other org: %v", err)
	}
	other := &relay.Connection{OrgID: "org_b", Provider: "github", ExternalID: "42", Status: relay.ConnectionActive, UpdatedAt: t0}
	if _, err := cs.UpsertConnection(ctx, other, nil, nil); relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("live account taken by another org: %v", err)
	}
	if f, err := cs.FindConnectionByResource(ctx, "github", "r2"); err != nil || f.ID != c.ID {
		t.Fatalf("by resource %v %v", f, err)
	}
	must(t, cs.UpdateResources(ctx, c.ID, []*relay.Resource{{ExternalID: "r3", Kind: "repository"}}, []string{"r2"}, t0))
	rs, _ := cs.ListResources(ctx, c.ID)
	if len(rs) != 2 || rs[0].ExternalID != "r1" || rs[1].ExternalID != "r3" {
		t.Fatalf("resources %v", rs)
	}
	if _, err := cs.FindConnectionByResource(ctx, "github", "r2"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("removed resource still routes: %v", err)
	}

	// Tokens: compare-and-swap on the version.
	st, err := cs.GetToken(ctx, c.ID)
	if err != nil || !bytes.Equal(st.Sealed.Ciphertext, []byte("sealed:t1")) || st.Version != 1 {
		t.Fatalf("token %+v %v", st, err)
	}
	next := sealedToken("t2", t0.Add(2*time.Hour))
	next.ConnectionID = c.ID
	must(t, cs.PutToken(ctx, next, 1))
	stale := sealedToken("t3", t0.Add(3*time.Hour))
	stale.ConnectionID = c.ID
	if err := cs.PutToken(ctx, stale, 1); relay.ErrorCode(err) != relay.ECONFLICT {
		t.Fatalf("stale put: %v", err)
	}
	if st, _ := cs.GetToken(ctx, c.ID); st.Version != 2 || string(st.Sealed.Ciphertext) != "sealed:t2" {
		t.Fatalf("after put %+v", st)
	}
	n, err := cs.ResealAll(ctx, func(v relay.Sealed) (relay.Sealed, error) {
		return relay.Sealed{KeyID: "k2", Ciphertext: append([]byte("re:"), v.Ciphertext...)}, nil
	})
	if st, _ := cs.GetToken(ctx, c.ID); err != nil || n != 1 || st.Sealed.KeyID != "k2" || string(st.Sealed.Ciphertext) != "re:sealed:t2" {
		t.Fatalf("reseal %d %v %+v", n, err, st)
	}

	must(t, cs.SetConnectionMetadata(ctx, c.ID, map[string]string{"webhook_id": "w1", "target_type": ""}, t0))
	must(t, cs.SetConnectionStatus(ctx, c.ID, relay.ConnectionSuspended, "suspended", t0))
	must(t, cs.SetTeardown(ctx, c.ID, "pending", t0))
	got, _ = cs.GetConnection(ctx, c.ID, "")
	if got.Metadata["webhook_id"] != "w1" || got.Metadata["target_type"] != "" || got.Status != relay.ConnectionSuspended || got.Teardown != "pending" {
		t.Fatalf("after updates %+v", got)
	}

	// Delete, then reconnect (from another org even): same row, revived.
	must(t, cs.DeleteConnection(ctx, c.ID, t0.Add(time.Minute)))
	got, _ = cs.GetConnection(ctx, c.ID, "")
	if got.DeletedAt == nil || got.Status != relay.ConnectionDeleted {
		t.Fatalf("deleted %+v", got)
	}
	if _, err := cs.FindConnection(ctx, "github", "42"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("deleted still found: %v", err)
	}
	if _, err := cs.GetToken(ctx, c.ID); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("token kept: %v", err)
	}
	if l, _ := cs.ListConnections(ctx, relay.ConnectionFilter{}); len(l) != 0 {
		t.Fatalf("deleted listed %v", l)
	}
	again := &relay.Connection{OrgID: "org_b", Provider: "github", ExternalID: "42", Status: relay.ConnectionActive, UpdatedAt: t0.Add(time.Hour)}
	created, err = cs.UpsertConnection(ctx, again, sealedToken("t4", time.Time{}), []*relay.Resource{})
	if err != nil || created || again.ID != c.ID || again.DeletedAt != nil {
		t.Fatalf("revive: %v %v %+v", created, err, again)
	}
	got, _ = cs.GetConnection(ctx, c.ID, "org_b")
	if got == nil || got.Teardown != "" || got.DeletedAt != nil || got.Status != relay.ConnectionActive || !got.TokenExpiresAt.IsZero() {
		t.Fatalf("revived %+v", got)
	}
	if l, _ := cs.ListConnections(ctx, relay.ConnectionFilter{OrgID: "org_a", IncludeDeleted: true}); len(l) != 0 {
		t.Fatalf("org filter %v", l)
	}
}

func testReleaseHeld(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	orgDst := destination(t, s, "org-a")
	orgDst.OrgID = "org_a"
	must(t, s.UpdateDestination(ctx, orgDst))
	var held []string
	for i, acct := range []string{"A", "B", "A", "A"} {
		it := item("github", "h-"+string(rune('0'+i)), "issues.opened", "", t0.Add(time.Duration(i)*time.Second))
		it.Event.AccountID, it.Event.Match = acct, relay.MatchUnmatched
		insert(t, s, it)
		if acct == "A" {
			held = append(held, it.Event.ID)
		}
	}
	now := t0.Add(time.Minute)
	r := relay.HeldRelease{Provider: "github", AccountID: "A", OrgID: "org_a", ConnectionID: "con_1",
		Destinations: []*relay.Destination{orgDst}, Now: now}
	n, err := cs.ReleaseHeld(ctx, r)
	if err != nil || n != 3 {
		t.Fatalf("released %d %v", n, err)
	}
	for _, id := range held {
		e, err := s.GetEvent(ctx, id, "org_a")
		if err != nil || e.Match != relay.MatchMatched || e.ConnectionID != "con_1" || len(e.Deliveries) != 1 {
			t.Fatalf("event %s: %+v %v", id, e, err)
		}
	}
	claims, err := s.ClaimDue(ctx, "me", now.Add(time.Second), time.Minute, 10)
	if err != nil || len(claims) != 3 {
		t.Fatalf("claims %d %v", len(claims), err)
	}
	for i, c := range claims {
		if c.Event.ID != held[i] {
			t.Fatalf("claim %d = %s, want %s (arrival order)", i, c.Event.ID, held[i])
		}
	}
	if n, err := cs.ReleaseHeld(ctx, r); err != nil || n != 0 {
		t.Fatalf("second release %d %v", n, err)
	}
	page, _ := s.ListEvents(ctx, relay.EventFilter{})
	for _, e := range page.Items {
		if e.AccountID == "B" && (e.Match != relay.MatchUnmatched || e.OrgID != "") {
			t.Fatalf("account B released: %+v", e)
		}
	}
}
