package connect_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/connect"
	"github.com/relayhq/relay/vault"
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

// TestLegacyTokenOpensAndRotationBindsIt: a token sealed before tokens were
// bound to their connection still opens; key rotation re-seals it bound,
// after which it no longer opens in another connection's row.
func TestLegacyTokenOpensAndRotationBindsIt(t *testing.T) {
	f := newFixture(t)
	key := bytes.Repeat([]byte{7}, vault.KeySize)
	ring, err := vault.New([][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = connect.New(f.store, ring, []relay.Connector{f.fake}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), f.clock,
		connect.Config{PublicURL: "https://relay.example", AllowedReturnOrigins: []string{"https://app.example"}})
	t.Cleanup(f.svc.Close)
	a := f.connect(t, "acct-1", "c1").Get("connection_id")
	b := f.connect(t, "acct-2", "c2").Get("connection_id")
	want, err := f.svc.Token(ctx, a, "")
	if err != nil {
		t.Fatal(err)
	}

	// Store a's token as an earlier version sealed it: the key id alone
	// authenticated.
	plain, _ := json.Marshal(want)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	legacy := relay.Sealed{KeyID: vault.KeyID(key), Ciphertext: aead.Seal(nonce, nonce, plain, []byte(vault.KeyID(key)))}
	st, _ := f.store.GetToken(ctx, a)
	if err := f.store.PutToken(ctx, &relay.SealedToken{ConnectionID: a, Sealed: legacy, ExpiresAt: st.ExpiresAt}, st.Version); err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.Token(ctx, a, ""); err != nil || got.AccessToken != want.AccessToken {
		t.Fatalf("legacy token: %v", err)
	}

	n, err := f.store.ResealAll(ctx, ring.Reseal)
	if err != nil || n != 1 {
		t.Fatalf("rotation re-sealed %d %v, want the legacy token only", n, err)
	}
	if got, err := f.svc.Token(ctx, a, ""); err != nil || got.AccessToken != want.AccessToken {
		t.Fatalf("after rotation: %v", err)
	}
	bound, _ := f.store.GetToken(ctx, a)
	tb, _ := f.store.GetToken(ctx, b)
	if err := f.store.PutToken(ctx, &relay.SealedToken{ConnectionID: b, Sealed: bound.Sealed, ExpiresAt: bound.ExpiresAt}, tb.Version); err != nil {
		t.Fatal(err)
	}
	if tok, err := f.svc.Token(ctx, b, ""); err == nil {
		t.Fatalf("the re-sealed token opened in another connection's row: %q", tok.AccessToken)
	}
}
