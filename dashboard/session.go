package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/relayhq/relay"
)

// sessionCookie is the name of the cookie that holds a signed-in session.
const sessionCookie = "relay_session"

// session is a signed-in browser: the API key it signed in with and when
// the session ends.
type session struct {
	key     *relay.APIKey
	expires time.Time
	value   string // the cookie's value, which the CSRF token is bound to
}

// A session cookie is "keyID.expiry.mac", the MAC being an HMAC-SHA256
// keyed with the stored hash of the API key. Relay keeps no session table
// and needs no signing secret of its own: only someone who holds the key's
// hash (the database) can make a cookie, every replica can check one, and
// revoking the key ends every session made with it, since its hash is gone.

// newSessionValue returns the cookie value of a session for k until expires.
func newSessionValue(k *relay.APIKey, expires time.Time) string {
	msg := k.ID + "." + strconv.FormatInt(expires.Unix(), 10)
	return msg + "." + sessionMAC(k.Hash, "session|"+msg)
}

// sessionMAC returns the hex HMAC-SHA256 of msg keyed with an API key's hash.
func sessionMAC(keyHash, msg string) string {
	m := hmac.New(sha256.New, []byte(keyHash))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// csrfToken returns the token the session's forms carry: bound to the
// session, so a token of one session is worthless in another.
func (s *session) csrfToken() string {
	sum := sessionMAC(s.key.Hash, "csrf|"+s.value)
	return base64.RawURLEncoding.EncodeToString([]byte(sum[:32]))
}

// validCSRF reports, in constant time, whether token is the session's.
func (s *session) validCSRF(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.csrfToken())) == 1
}

// readSession returns the request's session, or nil when it has none that
// is valid now (no cookie, a forged or expired one, or a revoked key).
func (d *Dashboard) readSession(ctx context.Context, r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return nil, nil
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return nil, nil
	}
	expires := time.Unix(unix, 0).UTC()
	if !d.now().Before(expires) {
		return nil, nil
	}
	keys, err := d.deps.Store.ListAPIKeys(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID != parts[0] {
			continue
		}
		want := sessionMAC(k.Hash, "session|"+parts[0]+"."+parts[1])
		if subtle.ConstantTimeCompare([]byte(want), []byte(parts[2])) != 1 {
			return nil, nil
		}
		return &session{key: k, expires: expires, value: c.Value}, nil
	}
	return nil, nil
}

// setSessionCookie gives the browser the session's cookie: HttpOnly, Secure
// when Relay is served over TLS, SameSite=Strict, expiring with the session.
func (d *Dashboard) setSessionCookie(w http.ResponseWriter, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", Expires: expires,
		MaxAge: max(int(expires.Sub(d.now()).Seconds()), -1), HttpOnly: true, Secure: d.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode})
}
