package connect_test

import (
	"testing"

	"github.com/relayhq/relay"
)

// TestTokenCopiedToAnotherConnectionDoesNotOpen: each token is sealed bound
// to its connection, so a ciphertext copied into another connection's row
// (by someone who can write the database but has no key) does not open
// there; it still opens where it belongs.
func TestTokenCopiedToAnotherConnectionDoesNotOpen(t *testing.T) {
	f := newFixture(t)
	a := f.connect(t, "acct-1", "c1").Get("connection_id")
	b := f.connect(t, "acct-2", "c2").Get("connection_id")
	ta, err := f.store.GetToken(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := f.store.GetToken(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutToken(ctx, &relay.SealedToken{ConnectionID: b, Sealed: ta.Sealed, ExpiresAt: ta.ExpiresAt}, tb.Version); err != nil {
		t.Fatal(err)
	}
	if tok, err := f.svc.Token(ctx, b, ""); err == nil {
		t.Fatalf("connection %s's token opened as %s's: %q", a, b, tok.AccessToken)
	}
	if _, err := f.svc.Token(ctx, a, ""); err != nil {
		t.Fatalf("the token in its own row: %v", err)
	}
}
