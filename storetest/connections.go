package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
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

// sealed is UpsertConnection's seal for a token sealed already.
func sealed(t *relay.SealedToken) relay.SealToken {
	return func(string) (*relay.SealedToken, error) { return t, nil }
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
	if _, err := cs.TakeOAuthState(ctx, "s1"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("second take: %v", err)
	}
	if _, err := cs.TakeOAuthState(ctx, "never"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("unknown state: %v", err)
	}
}

func testConnectionLifecycle(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	c := &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "42", AccountName: "octo", Status: relay.ConnectionActive,
		Metadata: map[string]string{"target_type": "Organization"}, UpdatedAt: t0}
	tok := sealedToken("t1", t0.Add(time.Hour))
	created, err := cs.UpsertConnection(ctx, c, sealed(tok), []*relay.Resource{{ExternalID: "r1", Kind: "repository", Name: "o/a"}, {ExternalID: "r2", Kind: "repository"}})
	if err != nil || !created || c.ID == "" || tok.Version != 1 || tok.ConnectionID != c.ID || !c.CreatedAt.Equal(t0) || !c.UpdatedAt.Equal(t0) {
		t.Fatalf("create: %v %v %+v %+v", created, err, c, tok)
	}
	got, err := cs.GetConnection(ctx, c.ID, "org_a")
	if err != nil || got.ExternalID != "42" || got.Metadata["target_type"] != "Organization" || !got.TokenExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("get %+v %v", got, err)
	}
	// A token that cannot be sealed stores nothing of the connection.
	sealErr := errors.New("no random")
	failed := &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "43", Status: relay.ConnectionActive, UpdatedAt: t0}
	if _, err := cs.UpsertConnection(ctx, failed, func(string) (*relay.SealedToken, error) { return nil, sealErr }, nil); !errors.Is(err, sealErr) {
		t.Fatalf("seal failure: %v", err)
	}
	if _, err := cs.FindConnection(ctx, "github", "43"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("connection stored without its token: %v", err)
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
	n, err := s.ResealAll(ctx, func(v relay.Sealed, ad []byte) (relay.Sealed, error) {
		if string(ad) != string(relay.TokenAD(c.ID)) {
			return relay.Sealed{}, fmt.Errorf("token of %s resealed for %q", c.ID, ad)
		}
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
	// The token is sealed for the id the revived row keeps (TokenAD).
	var sealedFor string
	created, err = cs.UpsertConnection(ctx, again, func(id string) (*relay.SealedToken, error) {
		sealedFor = id
		return sealedToken("t4", time.Time{}), nil
	}, []*relay.Resource{})
	if err != nil || created || again.ID != c.ID || again.DeletedAt != nil || !again.CreatedAt.Equal(t0) || !again.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revive: %v %v %+v", created, err, again)
	}
	if sealedFor != c.ID {
		t.Fatalf("token sealed for %q, want the row's id %s", sealedFor, c.ID)
	}
	if st, err := cs.GetToken(ctx, c.ID); err != nil || st.Version != 1 || string(st.Sealed.Ciphertext) != "sealed:t4" {
		t.Fatalf("revived token %+v %v", st, err)
	}
	if rs, _ := cs.ListResources(ctx, c.ID); len(rs) != 0 {
		t.Fatalf("revived with resources %v", rs)
	}
	if f, err := cs.FindConnection(ctx, "github", "42"); err != nil || f.ID != c.ID || f.OrgID != "org_b" {
		t.Fatalf("revived not found: %+v %v", f, err)
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
	pushOnly := destination(t, s, "org-a-push")
	pushOnly.OrgID, pushOnly.EventTypes = "org_a", []string{"push"}
	must(t, s.UpdateDestination(ctx, pushOnly))
	otherOrg := destination(t, s, "org-b")
	otherOrg.OrgID = "org_b"
	must(t, s.UpdateDestination(ctx, otherOrg))

	// Account A's events are held, but for one matched already; B's one is held too.
	var held []string
	var heldB, matched string
	for i, acct := range []string{"A", "B", "A", "A*", "A"} {
		it := item("github", fmt.Sprintf("h-%d", i), "issues.opened", "", t0.Add(time.Duration(i)*time.Second))
		it.Event.AccountID, it.Event.Match = acct, relay.MatchUnmatched
		switch acct {
		case "A":
			if i == 2 {
				it.Event.Source = relay.SourceBackfill
			}
			held = append(held, it.Event.ID)
		case "B":
			heldB = it.Event.ID
		case "A*":
			it.Event.AccountID, it.Event.Match, it.Event.OrgID, it.Event.ConnectionID = "A", relay.MatchMatched, "org_a", "con_0"
			matched = it.Event.ID
		}
		insert(t, s, it)
	}
	if e, err := s.GetEvent(ctx, held[0], ""); err != nil || e.Match != relay.MatchUnmatched || e.OrgID != "" || len(e.Deliveries) != 0 {
		t.Fatalf("held event %+v %v", e, err)
	}

	now := t0.Add(time.Minute)
	r := relay.HeldRelease{Provider: "github", AccountID: "A", OrgID: "org_a", ConnectionID: "con_1",
		Destinations: []*relay.Destination{orgDst, pushOnly, otherOrg}, Now: now}
	n, err := cs.ReleaseHeld(ctx, r)
	if err != nil || n != 3 {
		t.Fatalf("released %d %v", n, err)
	}
	for _, id := range held {
		e, err := s.GetEvent(ctx, id, "org_a")
		if err != nil || e.Match != relay.MatchMatched || e.ConnectionID != "con_1" || len(e.Deliveries) != 1 {
			t.Fatalf("event %s: %+v %v", id, e, err)
		}
		d := e.Deliveries[0]
		if d.DestinationID != orgDst.ID || d.Status != relay.DeliveryPending || d.Source != e.Source || d.Attempts != 0 ||
			d.NextAttemptAt.Before(now) || !d.CreatedAt.Equal(now) {
			t.Fatalf("delivery of %s: %+v", id, d)
		}
	}
	if e, err := s.GetEvent(ctx, heldB, ""); err != nil || e.Match != relay.MatchUnmatched || e.OrgID != "" || e.ConnectionID != "" || len(e.Deliveries) != 0 {
		t.Fatalf("account B released: %+v %v", e, err)
	}
	if e, err := s.GetEvent(ctx, matched, ""); err != nil || e.ConnectionID != "con_0" || len(e.Deliveries) != 0 {
		t.Fatalf("matched event touched: %+v %v", e, err)
	}

	claims, err := s.ClaimDue(ctx, "me", now.Add(time.Second), time.Minute, 10)
	if err != nil || len(claims) != 3 {
		t.Fatalf("claims %d %v", len(claims), err)
	}
	for i, c := range claims {
		if c.Event.ID != held[i] || c.Destination.ID != orgDst.ID {
			t.Fatalf("claim %d = %s, want %s (arrival order)", i, c.Event.ID, held[i])
		}
	}

	// Released events are not held any more: a second release creates nothing.
	if n, err := cs.ReleaseHeld(ctx, r); err != nil || n != 0 {
		t.Fatalf("second release %d %v", n, err)
	}
	if page, _ := s.ListDeliveries(ctx, relay.DeliveryFilter{}); len(page.Items) != 3 {
		t.Fatalf("deliveries after a second release: %d", len(page.Items))
	}
}

func testConnectionResources(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	c := &relay.Connection{OrgID: "org_a", Provider: "linear", ExternalID: "ws1", Status: relay.ConnectionActive, UpdatedAt: t0}
	_, err := cs.UpsertConnection(ctx, c, nil, []*relay.Resource{{ExternalID: "p1", Kind: "project"}, {ExternalID: "p2", Kind: "project"}})
	must(t, err)
	ids := func() []string {
		t.Helper()
		rs, err := cs.ListResources(ctx, c.ID)
		must(t, err)
		var out []string
		for _, r := range rs {
			if r.ConnectionID != c.ID || r.Provider != "linear" {
				t.Fatalf("resource %+v", r)
			}
			out = append(out, r.ExternalID+":"+r.Name)
		}
		return out
	}
	if got := ids(); !slices.Equal(got, []string{"p1:", "p2:"}) {
		t.Fatalf("resources %v", got)
	}

	// A reconnect of the live account replaces the set: p2 goes, p1 is
	// updated, p3 arrives. nil resources keep the set.
	c2 := &relay.Connection{OrgID: "org_a", Provider: "linear", ExternalID: "ws1", Status: relay.ConnectionActive, UpdatedAt: t0.Add(time.Minute)}
	created, err := cs.UpsertConnection(ctx, c2, nil, []*relay.Resource{{ExternalID: "p1", Kind: "project", Name: "One"}, {ExternalID: "p3", Kind: "team"}})
	if err != nil || created || c2.ID != c.ID {
		t.Fatalf("reconnect: %v %v %+v", created, err, c2)
	}
	if got := ids(); !slices.Equal(got, []string{"p1:One", "p3:"}) {
		t.Fatalf("replaced resources %v", got)
	}
	_, err = cs.UpsertConnection(ctx, c2, nil, nil)
	must(t, err)
	if got := ids(); !slices.Equal(got, []string{"p1:One", "p3:"}) {
		t.Fatalf("nil resources changed the set: %v", got)
	}
	if _, err := cs.FindConnectionByResource(ctx, "linear", "p2"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("replaced resource still routes: %v", err)
	}
	if _, err := cs.FindConnectionByResource(ctx, "github", "p1"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("resource of another provider: %v", err)
	}

	// UpdateResources revives a removed resource and removes others.
	must(t, cs.UpdateResources(ctx, c.ID, []*relay.Resource{{ExternalID: "p2", Kind: "project", Name: "Two"}}, []string{"p1", "unknown"}, t0.Add(2*time.Minute)))
	if got := ids(); !slices.Equal(got, []string{"p2:Two", "p3:"}) {
		t.Fatalf("updated resources %v", got)
	}
	if f, err := cs.FindConnectionByResource(ctx, "linear", "p2"); err != nil || f.ID != c.ID {
		t.Fatalf("revived resource: %+v %v", f, err)
	}

	// A deleted connection's resources route nowhere.
	must(t, cs.DeleteConnection(ctx, c.ID, t0.Add(3*time.Minute)))
	if _, err := cs.FindConnectionByResource(ctx, "linear", "p3"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("resource of a deleted connection routes: %v", err)
	}
	if got := ids(); len(got) != 0 {
		t.Fatalf("deleted connection lists resources %v", got)
	}
}

func testConnectionTokens(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	a := &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "1", Status: relay.ConnectionActive, UpdatedAt: t0}
	_, err := cs.UpsertConnection(ctx, a, sealed(sealedToken("a1", t0.Add(time.Hour))), nil)
	must(t, err)
	b := &relay.Connection{OrgID: "org_b", Provider: "vercel", ExternalID: "1", Status: relay.ConnectionActive, UpdatedAt: t0}
	_, err = cs.UpsertConnection(ctx, b, sealed(sealedToken("b1", time.Time{})), nil)
	must(t, err)
	pending := &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "2", Status: relay.ConnectionPending, UpdatedAt: t0}
	_, err = cs.UpsertConnection(ctx, pending, nil, nil)
	must(t, err)

	// A token given to an upsert replaces the stored one, Version+1; none
	// keeps it.
	tok := sealedToken("a2", t0.Add(2*time.Hour))
	_, err = cs.UpsertConnection(ctx, a, sealed(tok), nil)
	if err != nil || tok.Version != 2 || !a.TokenExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("replace token: %v %+v", err, tok)
	}
	_, err = cs.UpsertConnection(ctx, a, nil, nil)
	must(t, err)
	if st, err := cs.GetToken(ctx, a.ID); err != nil || st.Version != 2 || string(st.Sealed.Ciphertext) != "sealed:a2" || !st.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("kept token %+v %v", st, err)
	}
	if got, _ := cs.GetConnection(ctx, a.ID, ""); !got.TokenExpiresAt.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("token expiry not kept: %+v", got)
	}

	// PutToken: compare-and-swap on the version.
	next := sealedToken("a3", t0.Add(3*time.Hour))
	next.ConnectionID = a.ID
	must(t, cs.PutToken(ctx, next, 2))
	if next.Version != 3 {
		t.Fatalf("put version %d", next.Version)
	}
	if got, _ := cs.GetConnection(ctx, a.ID, ""); !got.TokenExpiresAt.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("connection token expiry %v", got.TokenExpiresAt)
	}
	stale := sealedToken("a4", t0.Add(4*time.Hour))
	stale.ConnectionID = a.ID
	for _, v := range []int64{2, 4} {
		if err := cs.PutToken(ctx, stale, v); relay.ErrorCode(err) != relay.ECONFLICT {
			t.Fatalf("put at version %d: %v", v, err)
		}
	}
	none := sealedToken("p1", t0)
	none.ConnectionID = pending.ID
	if err := cs.PutToken(ctx, none, 1); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("put without a token: %v", err)
	}
	if _, err := cs.GetToken(ctx, pending.ID); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("pending connection's token: %v", err)
	}

	// ResealAll rewrites every token, each a new version.
	n, err := s.ResealAll(ctx, func(v relay.Sealed, ad []byte) (relay.Sealed, error) {
		if v.KeyID != "k1" {
			return relay.Sealed{}, fmt.Errorf("unexpected key %s", v.KeyID)
		}
		if string(ad) != string(relay.TokenAD(a.ID)) && string(ad) != string(relay.TokenAD(b.ID)) {
			return relay.Sealed{}, fmt.Errorf("resealed for %q", ad)
		}
		return relay.Sealed{KeyID: "k2", Ciphertext: append([]byte("re:"), v.Ciphertext...)}, nil
	})
	if err != nil || n != 2 {
		t.Fatalf("reseal %d %v", n, err)
	}
	// A value fn returns unchanged is not rewritten.
	if n, err := s.ResealAll(ctx, func(v relay.Sealed, _ []byte) (relay.Sealed, error) { return v, nil }); err != nil || n != 0 {
		t.Fatalf("reseal without change: %d %v", n, err)
	}
	for id, want := range map[string]struct {
		text    string
		version int64
	}{a.ID: {"re:sealed:a3", 4}, b.ID: {"re:sealed:b1", 2}} {
		st, err := cs.GetToken(ctx, id)
		if err != nil || st.Sealed.KeyID != "k2" || string(st.Sealed.Ciphertext) != want.text || st.Version != want.version {
			t.Fatalf("resealed %s: %+v %v", id, st, err)
		}
	}
	if st, _ := cs.GetToken(ctx, a.ID); !st.ExpiresAt.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("reseal changed the expiry: %v", st.ExpiresAt)
	}
}

func testListConnections(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	var ids []string
	for i, k := range []struct{ org, provider, account string }{
		{"org_a", "github", "1"}, {"org_b", "github", "2"}, {"org_a", "linear", "3"}, {"org_a", "github", "4"},
	} {
		c := &relay.Connection{OrgID: k.org, Provider: k.provider, ExternalID: k.account, Status: relay.ConnectionActive,
			UpdatedAt: t0.Add(time.Duration(i) * time.Second)}
		_, err := cs.UpsertConnection(ctx, c, nil, nil)
		must(t, err)
		ids = append(ids, c.ID)
	}
	must(t, cs.DeleteConnection(ctx, ids[3], t0.Add(time.Minute)))
	list := func(f relay.ConnectionFilter) []string {
		t.Helper()
		l, err := cs.ListConnections(ctx, f)
		must(t, err)
		out := []string{}
		for _, c := range l {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f    relay.ConnectionFilter
		want []string
	}{
		{relay.ConnectionFilter{}, ids[:3]},
		{relay.ConnectionFilter{IncludeDeleted: true}, ids},
		{relay.ConnectionFilter{OrgID: "org_a"}, []string{ids[0], ids[2]}},
		{relay.ConnectionFilter{OrgID: "org_a", Provider: "github", IncludeDeleted: true}, []string{ids[0], ids[3]}},
		{relay.ConnectionFilter{Provider: "github"}, []string{ids[0], ids[1]}},
		{relay.ConnectionFilter{OrgID: "org_c"}, []string{}},
	} {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.f, got, tc.want)
		}
	}

	// GetConnection is scoped to an org when one is given; deleted rows
	// are returned.
	if c, err := cs.GetConnection(ctx, ids[1], "org_b"); err != nil || c.ID != ids[1] {
		t.Fatalf("own org: %+v %v", c, err)
	}
	if _, err := cs.GetConnection(ctx, ids[1], "org_a"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("other org: %v", err)
	}
	if c, err := cs.GetConnection(ctx, ids[3], "org_a"); err != nil || c.Status != relay.ConnectionDeleted || c.DeletedAt == nil || !c.DeletedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("deleted: %+v %v", c, err)
	}
}

func testConnectionNotFound(t *testing.T, s relay.Store) {
	cs := connStore(t, s)
	for name, err := range map[string]error{
		"GetConnection":         func() error { _, err := cs.GetConnection(ctx, "con_x", ""); return err }(),
		"FindConnection":        func() error { _, err := cs.FindConnection(ctx, "github", "x"); return err }(),
		"FindByResource":        func() error { _, err := cs.FindConnectionByResource(ctx, "github", "x"); return err }(),
		"SetConnectionStatus":   cs.SetConnectionStatus(ctx, "con_x", relay.ConnectionRevoked, "", t0),
		"SetConnectionMetadata": cs.SetConnectionMetadata(ctx, "con_x", map[string]string{"k": "v"}, t0),
		"SetTeardown":           cs.SetTeardown(ctx, "con_x", "done", t0),
		"DeleteConnection":      cs.DeleteConnection(ctx, "con_x", t0),
		"UpdateResources":       cs.UpdateResources(ctx, "con_x", nil, []string{"r"}, t0),
		"GetToken":              func() error { _, err := cs.GetToken(ctx, "con_x"); return err }(),
		"PutToken":              cs.PutToken(ctx, &relay.SealedToken{ConnectionID: "con_x", Sealed: relay.Sealed{KeyID: "k", Ciphertext: []byte("c")}}, 1),
	} {
		if relay.ErrorCode(err) != relay.ENOTFOUND {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	if n, err := s.ResealAll(ctx, func(v relay.Sealed, _ []byte) (relay.Sealed, error) { return v, nil }); err != nil || n != 0 {
		t.Fatalf("reseal of nothing: %d %v", n, err)
	}
	if n, err := cs.ReleaseHeld(ctx, relay.HeldRelease{Provider: "github", AccountID: "x", OrgID: "org_a", ConnectionID: "con_x", Now: t0}); err != nil || n != 0 {
		t.Fatalf("release of nothing: %d %v", n, err)
	}
}
