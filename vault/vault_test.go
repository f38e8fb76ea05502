package vault_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/vault"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, vault.KeySize) }

func TestSealOpen(t *testing.T) {
	k, err := vault.New([][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Seal([]byte("gho_secret"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Seal([]byte("gho_secret"))
	if bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("same ciphertext twice: nonce reused")
	}
	if bytes.Contains(a.Ciphertext, []byte("gho_secret")) {
		t.Fatal("plaintext visible in the ciphertext")
	}
	p, err := k.Open(a)
	if err != nil || string(p) != "gho_secret" {
		t.Fatalf("open: %q %v", p, err)
	}
	tampered := relay.Sealed{KeyID: a.KeyID, Ciphertext: bytes.Clone(a.Ciphertext)}
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1
	if _, err := k.Open(tampered); relay.ErrorCode(err) != relay.EINTERNAL {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := k.Open(relay.Sealed{KeyID: "00000000", Ciphertext: a.Ciphertext}); err == nil || !strings.Contains(err.Error(), "00000000") {
		t.Fatalf("unknown key id: %v", err)
	}
	if _, err := k.Open(relay.Sealed{KeyID: a.KeyID, Ciphertext: a.Ciphertext[:5]}); err == nil {
		t.Fatal("truncated value opened")
	}
}

func TestRotation(t *testing.T) {
	oldRing, _ := vault.New([][]byte{key(1)})
	s, _ := oldRing.Seal([]byte("refresh-token"))
	both, err := vault.New([][]byte{key(2), key(1)})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := both.Open(s); err != nil || string(p) != "refresh-token" {
		t.Fatalf("old value under the new ring: %v", err)
	}
	moved, err := both.Reseal(s)
	if err != nil || moved.KeyID != vault.KeyID(key(2)) || moved.KeyID == s.KeyID {
		t.Fatalf("reseal: %+v %v", moved, err)
	}
	if again, _ := both.Reseal(moved); !bytes.Equal(again.Ciphertext, moved.Ciphertext) {
		t.Fatal("resealing a value already under the first key changed it")
	}
	newRing, _ := vault.New([][]byte{key(2)})
	if p, err := newRing.Open(moved); err != nil || string(p) != "refresh-token" {
		t.Fatalf("after dropping the old key: %v", err)
	}
	if _, err := newRing.Open(s); err == nil {
		t.Fatal("a value under a dropped key opened")
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
	k1, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) != vault.KeySize {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	k2, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("reuse: %v %v", created, err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if k3, _, err := vault.LoadOrCreateKeyFile(path); err != nil || !bytes.Equal(k1, k3) {
		t.Fatalf("read-only for the owner: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o700} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, _, err := vault.LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), "broader than 0600; chmod 600") {
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
		_, _, err := vault.LoadOrCreateKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A key written by hand (upper case, no newline) is read as is.
	path := filepath.Join(dir, "by-hand")
	if err := os.WriteFile(path, []byte(strings.ToUpper(hex.EncodeToString(key(9)))), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, created, err := vault.LoadOrCreateKeyFile(path); err != nil || created || !bytes.Equal(k, key(9)) {
		t.Errorf("by hand: %v %v", created, err)
	}
	if _, _, err := vault.LoadOrCreateKeyFile(filepath.Join(dir, "no-such-dir", "relay.key")); err == nil {
		t.Error("a key file in a missing directory")
	}
}

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
			k, c, err := vault.LoadOrCreateKeyFile(path)
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
