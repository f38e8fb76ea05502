package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/vault"
)

// testRotateSecret: a rotation keeps the replaced secret, sealed like the
// current one, as the previous secret until the given time; destinations
// are read (got, listed, claimed) with both; key rotation reseals both; a
// secret set by an update ends the overlap.
func testRotateSecret(t *testing.T, open Opener) {
	s := open(ring(t, 1))
	d := destination(t, s, "app")
	if err := s.RotateDestinationSecret(ctx, "dst_nope", relay.NewSecret(), t0); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("rotate an unknown destination: %v", err)
	}
	next := relay.NewSecret()
	until := t0.Add(24 * time.Hour)
	must(t, s.RotateDestinationSecret(ctx, d.ID, next, until))

	check := func(what string, got *relay.Destination, secret, previous string, until time.Time) {
		t.Helper()
		if got.Secret != secret || got.PreviousSecret != previous || !got.PreviousSecretUntil.Equal(until) {
			t.Fatalf("%s: secret %q previous %q until %v; want %q %q %v", what, got.Secret, got.PreviousSecret,
				got.PreviousSecretUntil, secret, previous, until)
		}
	}
	got, err := s.GetDestination(ctx, d.ID)
	must(t, err)
	check("get", got, next, d.Secret, until)
	list, err := s.ListDestinations(ctx)
	must(t, err)
	check("list", list[0], next, d.Secret, until)
	insert(t, s, item("github", "gh-rot", "issues.opened", "", t0, d))
	claims, err := s.ClaimDue(ctx, "me", t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	check("claim", claims[0].Destination, next, d.Secret, until)

	// Both are sealed, under the store's key, and resealed by key rotation.
	if ids, _ := s.SealedKeyIDs(ctx); !slices.Equal(ids, []string{vault.KeyID(testKey(1))}) {
		t.Fatalf("sealed key ids %v", ids)
	}
	both := ring(t, 2, 1)
	if _, err := open(both).ResealAll(ctx, both.Reseal); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.SealedKeyIDs(ctx); !slices.Equal(ids, []string{vault.KeyID(testKey(2))}) {
		t.Fatalf("sealed key ids after key rotation %v: the previous secret was not resealed", ids)
	}
	s = open(ring(t, 2))
	got, err = s.GetDestination(ctx, d.ID)
	must(t, err)
	check("after key rotation", got, next, d.Secret, until)

	// Another rotation replaces the previous secret.
	third := relay.NewSecret()
	must(t, s.RotateDestinationSecret(ctx, d.ID, third, until.Add(time.Hour)))
	got, err = s.GetDestination(ctx, d.ID)
	must(t, err)
	check("second rotation", got, third, next, until.Add(time.Hour))

	// A secret set by an update replaces both at once.
	got.Secret = relay.NewSecret()
	must(t, s.UpdateDestination(ctx, got))
	upd, err := s.GetDestination(ctx, d.ID)
	must(t, err)
	check("update", upd, got.Secret, "", time.Time{})

	// An upsert writes what it is given (the caller decides what the
	// configuration keeps).
	up := &relay.Destination{ID: relay.NewID("dst", t0), Name: "app", URL: d.URL, Secret: next, PreviousSecret: third,
		PreviousSecretUntil: until, MaxConcurrency: 1, Timeout: relay.Duration(time.Second), UpdatedAt: t0}
	must(t, s.UpsertDestination(ctx, up))
	got, err = s.GetDestination(ctx, d.ID)
	must(t, err)
	check("upsert", got, next, third, until)
}
