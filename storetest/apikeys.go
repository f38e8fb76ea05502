package storetest

import (
	"testing"
	"time"

	"github.com/relayhq/relay"
)

// testAPIKeyListRevoke: keys are listed per org or all, and revoked only
// within the org asked for; the last admin key stays.
func testAPIKeyListRevoke(t *testing.T, s relay.Store) {
	mk := func(id, org, secret string, at time.Time) *relay.APIKey {
		k := &relay.APIKey{ID: id, OrgID: org, Name: "n-" + id, Prefix: relay.APIKeyPrefix(secret),
			Hash: relay.HashAPIKey(secret), CreatedAt: at}
		must(t, s.CreateAPIKey(ctx, k))
		return k
	}
	mk("key_admin1", "", "rk_admin1-0123456789abcdef0123456789abcdef0123456789abcdef01234567", t0)
	mk("key_a1", "org-a", "rk_orga1", t0.Add(time.Second))
	mk("key_b1", "org-b", "rk_orgb1", t0.Add(2*time.Second))
	mk("key_admin2", "", "rk_admin2", t0.Add(3*time.Second))

	ids := func(keys []*relay.APIKey) []string {
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return out
	}
	all, err := s.ListAPIKeys(ctx, "")
	must(t, err)
	if got := ids(all); len(got) != 4 || got[0] != "key_admin1" || got[1] != "key_a1" || got[2] != "key_b1" || got[3] != "key_admin2" {
		t.Fatalf("all keys %v, want the four oldest first", got)
	}
	if k := all[0]; k.Prefix != "rk_admin1-0" || k.Name != "n-key_admin1" || !k.CreatedAt.Equal(t0) || !k.LastUsedAt.IsZero() || k.Hash == "" {
		t.Fatalf("listed key %+v", k)
	}
	orgA, err := s.ListAPIKeys(ctx, "org-a")
	must(t, err)
	if got := ids(orgA); len(got) != 1 || got[0] != "key_a1" {
		t.Fatalf("org-a keys %v", got)
	}
	none, err := s.ListAPIKeys(ctx, "org-z")
	must(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("keys of an org without any: %#v, want an empty list", none)
	}

	// Another org's key, or an admin key, is not found for an org.
	_, err = s.RevokeAPIKey(ctx, "key_a1", "org-b")
	code(t, err, relay.ENOTFOUND)
	_, err = s.RevokeAPIKey(ctx, "key_admin1", "org-a")
	code(t, err, relay.ENOTFOUND)
	if _, err := s.FindAPIKey(ctx, relay.HashAPIKey("rk_orga1")); err != nil {
		t.Fatalf("a key another org failed to revoke is gone: %v", err)
	}
	_, err = s.RevokeAPIKey(ctx, "key_nope", "")
	code(t, err, relay.ENOTFOUND)

	k, err := s.RevokeAPIKey(ctx, "key_a1", "org-a")
	must(t, err)
	if k.ID != "key_a1" || k.Hash != relay.HashAPIKey("rk_orga1") {
		t.Fatalf("revoked %+v", k)
	}
	_, err = s.FindAPIKey(ctx, relay.HashAPIKey("rk_orga1"))
	code(t, err, relay.ENOTFOUND)
	_, err = s.RevokeAPIKey(ctx, "key_a1", "org-a")
	code(t, err, relay.ENOTFOUND)

	// An admin revokes any key, but not the last admin key.
	_, err = s.RevokeAPIKey(ctx, "key_b1", "")
	must(t, err)
	_, err = s.RevokeAPIKey(ctx, "key_admin1", "")
	must(t, err)
	_, err = s.RevokeAPIKey(ctx, "key_admin2", "")
	code(t, err, relay.ECONFLICT)
	if _, err := s.FindAPIKey(ctx, relay.HashAPIKey("rk_admin2")); err != nil {
		t.Fatalf("the last admin key: %v", err)
	}
	if n, err := s.CountAPIKeys(ctx); err != nil || n != 1 {
		t.Fatalf("count %d, %v; want 1", n, err)
	}
}

// testAPIKeyRevokeLastAdminConcurrent: the last two admin keys revoked at
// once leave one of them.
func testAPIKeyRevokeLastAdminConcurrent(t *testing.T, s relay.Store) {
	newAdmin := func() string {
		id := relay.NewID("key", t0)
		must(t, s.CreateAPIKey(ctx, &relay.APIKey{ID: id, Name: "admin", Hash: relay.HashAPIKey(id), CreatedAt: t0}))
		return id
	}
	left := newAdmin()
	for round := 0; round < 5; round++ {
		other := newAdmin()
		errs := make(chan error, 2)
		for _, id := range []string{left, other} {
			go func() { _, err := s.RevokeAPIKey(ctx, id, ""); errs <- err }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) || relay.ErrorCode(e1)+relay.ErrorCode(e2) != relay.ECONFLICT {
			t.Fatalf("round %d: revocations answered %v and %v; want one success and one ECONFLICT", round, e1, e2)
		}
		keys, err := s.ListAPIKeys(ctx, "")
		must(t, err)
		if len(keys) != 1 {
			t.Fatalf("round %d: %d admin keys left, want 1", round, len(keys))
		}
		left = keys[0].ID
	}
}

// testAPIKeyTouch: a key's use is recorded at most once per
// APIKeyUsageResolution.
func testAPIKeyTouch(t *testing.T, s relay.Store) {
	must(t, s.CreateAPIKey(ctx, &relay.APIKey{ID: "key_t", OrgID: "org-a", Name: "t", Hash: relay.HashAPIKey("t"), CreatedAt: t0}))
	used := func() time.Time {
		t.Helper()
		k, err := s.FindAPIKey(ctx, relay.HashAPIKey("t"))
		must(t, err)
		return k.LastUsedAt
	}
	must(t, s.TouchAPIKey(ctx, "key_t", t0.Add(time.Second)))
	if got := used(); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("last used %v, want %v", got, t0.Add(time.Second))
	}
	must(t, s.TouchAPIKey(ctx, "key_t", t0.Add(30*time.Second)))
	if got := used(); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("touched again within a minute: last used %v", got)
	}
	later := t0.Add(time.Second + relay.APIKeyUsageResolution)
	must(t, s.TouchAPIKey(ctx, "key_t", later))
	if got := used(); !got.Equal(later) {
		t.Fatalf("last used %v, want %v", got, later)
	}
	must(t, s.TouchAPIKey(ctx, "key_nope", later))
}
