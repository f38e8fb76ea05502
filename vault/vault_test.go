package vault_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/vault"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, vault.KeySize) }

var (
	adA = relay.TokenAD("con_a")
	adB = relay.TokenAD("con_b")
)

func TestSealOpen(t *testing.T) {
	k, err := vault.New([][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Seal([]byte("gho_secret"), adA)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Seal([]byte("gho_secret"), adA)
	if bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("same ciphertext twice: nonce reused")
	}
	if bytes.Contains(a.Ciphertext, []byte("gho_secret")) {
		t.Fatal("plaintext visible in the ciphertext")
	}
	p, err := k.Open(a, adA)
	if err != nil || string(p) != "gho_secret" {
		t.Fatalf("open: %q %v", p, err)
	}
	tampered := relay.Sealed{KeyID: a.KeyID, Ciphertext: bytes.Clone(a.Ciphertext)}
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1
	if _, err := k.Open(tampered, adA); relay.ErrorCode(err) != relay.EINTERNAL {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := k.Open(relay.Sealed{KeyID: "00000000", Ciphertext: a.Ciphertext}, adA); err == nil || !strings.Contains(err.Error(), "00000000") {
		t.Fatalf("unknown key id: %v", err)
	}
	if _, err := k.Open(relay.Sealed{KeyID: a.KeyID, Ciphertext: a.Ciphertext[:5]}, adA); err == nil {
		t.Fatal("truncated value opened")
	}
}

// TestSealedValueIsBoundToItsOwner: a value sealed for one owner does not
// open for another (a ciphertext copied to another row), nor for another
// kind of secret of the same id, nor unbound.
func TestSealedValueIsBoundToItsOwner(t *testing.T) {
	k, _ := vault.New([][]byte{key(1)})
	a, _ := k.Seal([]byte("token of a"), adA)
	for name, ad := range map[string][]byte{
		"another connection":           adB,
		"a destination of the same id": relay.DestinationSecretAD("con_a"),
		"no owner":                     nil,
		"the key id alone":             []byte(a.KeyID),
	} {
		if p, err := k.Open(a, ad); relay.ErrorCode(err) != relay.EINTERNAL {
			t.Errorf("%s: opened %q (%v)", name, p, err)
		}
	}
	if p, err := k.Open(a, adA); err != nil || string(p) != "token of a" {
		t.Fatalf("own row: %q %v", p, err)
	}
}

// legacySeal seals as Relay did before values were bound to their owner:
// only the key id is authenticated.
func legacySeal(t *testing.T, k []byte, plaintext string) relay.Sealed {
	t.Helper()
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	id := vault.KeyID(k)
	return relay.Sealed{KeyID: id, Ciphertext: aead.Seal(nonce, nonce, []byte(plaintext), []byte(id))}
}

// TestLegacyValueOpensAndIsBoundByReseal: a value sealed before binding
// still opens; Reseal binds it to its owner even under the same key, after
// which it opens for that owner only.
func TestLegacyValueOpensAndIsBoundByReseal(t *testing.T) {
	k, _ := vault.New([][]byte{key(1)})
	old := legacySeal(t, key(1), "legacy token")
	if p, err := k.Open(old, adA); err != nil || string(p) != "legacy token" {
		t.Fatalf("legacy value: %q %v", p, err)
	}
	bound, err := k.Reseal(old, adA)
	if err != nil || bound.KeyID != old.KeyID || bytes.Equal(bound.Ciphertext, old.Ciphertext) {
		t.Fatalf("reseal of a legacy value under the first key left it as it was: %v", err)
	}
	if p, err := k.Open(bound, adA); err != nil || string(p) != "legacy token" {
		t.Fatalf("bound: %q %v", p, err)
	}
	if _, err := k.Open(bound, adB); err == nil {
		t.Fatal("the re-sealed value opens for another owner")
	}
	if again, err := k.Reseal(bound, adA); err != nil || !bytes.Equal(again.Ciphertext, bound.Ciphertext) {
		t.Fatalf("resealing a bound value under the first key changed it: %v", err)
	}
	if _, err := k.Reseal(bound, adB); err == nil {
		t.Fatal("resealed for another owner")
	}
}

func TestRotation(t *testing.T) {
	oldRing, _ := vault.New([][]byte{key(1)})
	s, _ := oldRing.Seal([]byte("refresh-token"), adA)
	both, err := vault.New([][]byte{key(2), key(1)})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := both.Open(s, adA); err != nil || string(p) != "refresh-token" {
		t.Fatalf("old value under the new ring: %v", err)
	}
	moved, err := both.Reseal(s, adA)
	if err != nil || moved.KeyID != vault.KeyID(key(2)) || moved.KeyID == s.KeyID {
		t.Fatalf("reseal: %+v %v", moved, err)
	}
	if again, _ := both.Reseal(moved, adA); !bytes.Equal(again.Ciphertext, moved.Ciphertext) {
		t.Fatal("resealing a value already under the first key changed it")
	}
	newRing, _ := vault.New([][]byte{key(2)})
	if p, err := newRing.Open(moved, adA); err != nil || string(p) != "refresh-token" {
		t.Fatalf("after dropping the old key: %v", err)
	}
	if _, err := newRing.Open(moved, adB); err == nil {
		t.Fatal("a moved value opens for another owner")
	}
	if _, err := newRing.Open(s, adA); err == nil {
		t.Fatal("a value under a dropped key opened")
	}
	if m := newRing.Missing([]string{s.KeyID, moved.KeyID}); len(m) != 1 || m[0] != s.KeyID {
		t.Fatalf("missing %v, want [%s]", m, s.KeyID)
	}
}

func TestParseKeys(t *testing.T) {
	good := hex.EncodeToString(key(7))
	if ks, err := vault.ParseKeys([]string{good, " " + hex.EncodeToString(key(8)) + "\n"}); err != nil || len(ks) != 2 || !bytes.Equal(ks[0], key(7)) {
		t.Fatalf("good keys: %v", err)
	}
	for name, tc := range map[string]struct {
		in    []string
		index int
		want  string
	}{
		"short":     {[]string{good, "abcd"}, 1, "must be 64 hex characters (32 bytes), not 4 characters"},
		"63 chars":  {[]string{good[:63]}, 0, "must be 64 hex characters (32 bytes), not 63 characters"},
		"too long":  {[]string{good + "00"}, 0, "not 66 characters"},
		"not hex":   {[]string{good, hex.EncodeToString(key(8)), strings.Repeat("zz", 32)}, 2, "not 0-9 or a-f"},
		"duplicate": {[]string{good, hex.EncodeToString(key(8)), strings.ToUpper(good)}, 2, "the same key as [0]"},
	} {
		_, err := vault.ParseKeys(tc.in)
		var ke *vault.KeyError
		if !errors.As(err, &ke) || ke.Index != tc.index || !strings.Contains(ke.Reason, tc.want) {
			t.Errorf("%s: got %v, want [%d]: …%s…", name, err, tc.index, tc.want)
			continue
		}
		if want := fmt.Sprintf("[%d]: ", tc.index); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %q does not start with %q", name, err, want)
		}
		if strings.Contains(strings.ToLower(err.Error()), good[:16]) || strings.Contains(err.Error(), "zzzz") {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	if _, err := vault.ParseKeys(nil); err == nil {
		t.Error("an empty list accepted")
	}
	if _, err := vault.New([][]byte{key(1), key(1)}); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := vault.New([][]byte{key(1)[:16]}); err == nil {
		t.Fatal("AES-128 key accepted")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.key")
	if _, err := vault.LoadKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	k0, err := vault.NewKey()
	if err != nil || len(k0) != vault.KeySize {
		t.Fatalf("new key: %v", err)
	}
	k1, created, err := vault.CreateKeyFile(path, k0)
	if err != nil || !created || !bytes.Equal(k1, k0) {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	if k2, err := vault.LoadKeyFile(path); err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("load: %v", err)
	}
	if k2, created, err := vault.CreateKeyFile(path, key(3)); err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("create over an existing file: %v %v", created, err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if k3, err := vault.LoadKeyFile(path); err != nil || !bytes.Equal(k1, k3) {
		t.Fatalf("read-only for the owner: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o700} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := vault.LoadKeyFile(path); err == nil || !strings.Contains(err.Error(), "broader than 0600; chmod 600") {
			t.Fatalf("mode %v: %v", mode, err)
		}
	}
}

func TestKeyFileBadContent(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty":   "",
		"partial": "abcdef",
		"not hex": strings.Repeat("x", 64),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := vault.LoadKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A key written by hand (upper case, no newline) is read as is.
	path := filepath.Join(dir, "by-hand")
	if err := os.WriteFile(path, []byte(strings.ToUpper(hex.EncodeToString(key(9)))), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := vault.LoadKeyFile(path); err != nil || !bytes.Equal(k, key(9)) {
		t.Errorf("by hand: %v", err)
	}
	if _, _, err := vault.CreateKeyFile(filepath.Join(dir, "no-such-dir", "relay.key"), key(1)); err == nil {
		t.Error("a key file in a missing directory")
	}
}

// TestKeyFileConcurrentStart: processes starting together, each with its
// own new key, all end up with the one key written first.
func TestKeyFileConcurrentStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.key")
	const n = 16
	keys := make([][]byte, n)
	created := make([]bool, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			k, c, err := vault.CreateKeyFile(path, key(byte(i+1)))
			if err != nil {
				t.Error(err)
			}
			keys[i], created[i] = k, c
		})
	}
	close(start)
	wg.Wait()
	creators := 0
	for i := range keys {
		if len(keys[i]) != vault.KeySize || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got another key", i)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d callers created the file, want 1", creators)
	}
}
