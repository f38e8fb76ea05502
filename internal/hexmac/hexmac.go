// Package hexmac checks hex-encoded HMAC signatures of webhook bodies, the
// scheme GitHub, Linear, Sentry and Vercel share (with different hashes,
// headers and prefixes), in constant time and without allocating a new MAC
// per request.
package hexmac

import (
	"crypto/hmac"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"github.com/relayhq/relay"
)

// Verifier checks one secret's signatures. It is safe for concurrent use.
type Verifier struct {
	header string // for error messages
	prefix string // stripped from the header value, e.g. "sha256="
	size   int
	macs   sync.Pool
}

// New returns a verifier of hex HMACs made with h and secret, read from
// header after prefix.
func New(h func() hash.Hash, secret, header, prefix string) *Verifier {
	key := []byte(secret)
	v := &Verifier{header: header, prefix: prefix, size: h().Size()}
	v.macs.New = func() any { return hmac.New(h, key) }
	return v
}

// Verify checks value (the header's content) against body. It returns an
// *relay.Error with code EUNAUTHORIZED when value is empty, malformed or
// wrong; the message never contains the secret or the expected signature.
func (v *Verifier) Verify(value string, body []byte) error {
	value = strings.TrimSpace(value)
	if value == "" {
		return relay.Errorf(relay.EUNAUTHORIZED, "missing %s header", v.header)
	}
	hexSig, ok := strings.CutPrefix(value, v.prefix)
	if !ok || len(hexSig) != 2*v.size {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", v.header)
	}
	var buf [2 * 64]byte // room for got and want up to SHA-512
	got, want := buf[:v.size], buf[v.size:v.size]
	if _, err := hex.Decode(got, []byte(hexSig)); err != nil {
		return relay.Errorf(relay.EUNAUTHORIZED, "malformed %s header", v.header)
	}
	mac := v.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(body)
	want = mac.Sum(want)
	v.macs.Put(mac)
	if !hmac.Equal(got, want) {
		return relay.Errorf(relay.EUNAUTHORIZED, "signature mismatch")
	}
	return nil
}
