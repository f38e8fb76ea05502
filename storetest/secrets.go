package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/vault"
)

// Opener opens stores on one fresh, migrated database, each with the
// sealer given (nil: none), as restarts with another configuration would.
type Opener func(sealer relay.Sealer) relay.Store

// RunSecrets runs the tests of secrets at rest; newDB returns an Opener on
// a fresh database.
func RunSecrets(t *testing.T, newDB func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"DestinationsSealed", func(t *testing.T, open Opener) { testDestinations(t, open(ring(t, 1))) }},
		{"DestinationSecretAtRest", testDestinationSecretAtRest},
		{"ClaimOpensSecret", testClaimOpensSecret},
		{"PlaintextSecretsSealed", testPlaintextSecretsSealed},
		{"ResealAllSecrets", testResealAllSecrets},
		{"RotateSecret", testRotateSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, vault.KeySize) }

// ring returns a keyring over the test keys numbered ids, the first sealing.
func ring(t *testing.T, ids ...byte) *vault.Keyring {
	t.Helper()
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = testKey(id)
	}
	k, err := vault.New(keys)
	must(t, err)
	return k
}

// testDestinationSecretAtRest: the secret is stored sealed under the
// store's key, and read back in clear only with that key.
func testDestinationSecretAtRest(t *testing.T, open Opener) {
	s := open(ring(t, 1))
	d := destination(t, s, "app")
	ids, err := s.SealedKeyIDs(ctx)
	must(t, err)
	if want := []string{vault.KeyID(testKey(1))}; !slices.Equal(ids, want) {
		t.Fatalf("sealed key ids %v, want %v", ids, want)
	}
	if got, err := s.GetDestination(ctx, d.ID); err != nil || got.Secret != d.Secret {
		t.Fatalf("get: %v", err)
	}
	if list, err := s.ListDestinations(ctx); err != nil || len(list) != 1 || list[0].Secret != d.Secret {
		t.Fatalf("list: %v", err)
	}
	// Without the key, or with another, the secret is not readable: it is
	// not stored in clear.
	for name, sealer := range map[string]relay.Sealer{"no sealer": nil, "another key": ring(t, 2)} {
		if got, err := open(sealer).GetDestination(ctx, d.ID); relay.ErrorCode(err) != relay.EINTERNAL {
			t.Errorf("%s: %+v %v", name, got, err)
		}
	}
}

// testClaimOpensSecret: claimed deliveries carry their destination's secret
// in clear, for signing.
func testClaimOpensSecret(t *testing.T, open Opener) {
	s := open(ring(t, 1))
	d := destination(t, s, "app")
	insert(t, s, item("github", "gh-1", "issues.opened", "", t0, d))
	claims, err := s.ClaimDue(ctx, "me", t0.Add(time.Second), time.Minute, 10)
	must(t, err)
	if len(claims) != 1 || claims[0].Destination.Secret != d.Secret {
		t.Fatalf("claims %v", claims)
	}
}

// testPlaintextSecretsSealed: secrets an earlier version stored in clear
// (here: a store without a sealer) are sealed by SealPlaintextSecrets,
// deleted destinations' too, once.
func testPlaintextSecretsSealed(t *testing.T, open Opener) {
	plain := open(nil)
	a := destination(t, plain, "a")
	b := destination(t, plain, "b")
	must(t, plain.DeleteDestination(ctx, b.ID))
	if _, err := plain.SealPlaintextSecrets(ctx); err == nil {
		t.Fatal("sealed without a sealer")
	}
	if ids, err := plain.SealedKeyIDs(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("sealed key ids of clear secrets: %v %v", ids, err)
	}

	s := open(ring(t, 1))
	if got, err := s.GetDestination(ctx, a.ID); err != nil || got.Secret != a.Secret {
		t.Fatalf("a clear secret read by a sealing store: %v", err)
	}
	n, err := s.SealPlaintextSecrets(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sealed %d %v, want 2", n, err)
	}
	if n, err := s.SealPlaintextSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("sealed again %d %v", n, err)
	}
	if got, err := s.GetDestination(ctx, a.ID); err != nil || got.Secret != a.Secret {
		t.Fatalf("sealed secret: %v", err)
	}
	if _, err := plain.GetDestination(ctx, a.ID); relay.ErrorCode(err) != relay.EINTERNAL {
		t.Fatalf("still readable without the key: %v", err)
	}
	if ids, _ := s.SealedKeyIDs(ctx); !slices.Equal(ids, []string{vault.KeyID(testKey(1))}) {
		t.Fatalf("sealed key ids %v", ids)
	}
}

// testResealAllSecrets: rotation re-seals destination secrets, deleted
// ones' included, each for its own destination, after which the old key
// can go.
func testResealAllSecrets(t *testing.T, open Opener) {
	old := open(ring(t, 1))
	a := destination(t, old, "a")
	b := destination(t, old, "b")
	must(t, old.DeleteDestination(ctx, b.ID))

	both := ring(t, 2, 1)
	s := open(both)
	var owners []string
	n, err := s.ResealAll(ctx, func(v relay.Sealed, ad []byte) (relay.Sealed, error) {
		owners = append(owners, string(ad))
		return both.Reseal(v, ad)
	})
	if err != nil || n != 2 {
		t.Fatalf("resealed %d %v, want 2", n, err)
	}
	slices.Sort(owners)
	want := []string{string(relay.DestinationSecretAD(a.ID)), string(relay.DestinationSecretAD(b.ID))}
	slices.Sort(want)
	if !slices.Equal(owners, want) {
		t.Fatalf("resealed for %q, want %q", owners, want)
	}
	if ids, _ := s.SealedKeyIDs(ctx); !slices.Equal(ids, []string{vault.KeyID(testKey(2))}) {
		t.Fatalf("sealed key ids after rotation %v", ids)
	}
	if n, err := s.ResealAll(ctx, both.Reseal); err != nil || n != 0 {
		t.Fatalf("second rotation rewrote %d %v", n, err)
	}
	if got, err := open(ring(t, 2)).GetDestination(ctx, a.ID); err != nil || got.Secret != a.Secret {
		t.Fatalf("after dropping the old key: %v", err)
	}
}
