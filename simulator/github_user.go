package simulator

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitHubUser is a GitHub user who can install the App. With the App setting
// "Request user authorization (OAuth) during installation", the install
// redirect carries a code for the installing user; the App exchanges it at
// POST /login/oauth/access_token for a user access token, with which
// GET /user/installations lists the App's installations the user can
// access: Installations, those that exist.
type GitHubUser struct {
	ID            int64
	Login         string
	Installations []int64
}

type githubUserCode struct {
	login   string
	expires time.Time
}

type githubUserToken struct {
	login   string
	expires time.Time
}

// GitHub's lifetimes: an authorization code lasts 10 minutes, a user
// access token 8 hours.
const (
	githubCodeTTL      = 10 * time.Minute
	githubUserTokenTTL = 8 * time.Hour
)

// AddUser makes a user exist, replacing one with the same login.
func (g *GitHub) AddUser(u GitHubUser) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u.Installations = slices.Clone(u.Installations)
	if u.ID == 0 {
		u.ID = int64(9000 + len(g.users))
	}
	g.users[u.Login] = &u
}

// addInstaller records who installed in, creating that user when missing
// and letting them access in; g.mu is held.
func (g *GitHub) addInstaller(in *GitHubInstallation) {
	login, id := in.Login+"-admin", int64(9000+len(g.users))
	if in.TargetType == "User" {
		login, id = in.Login, in.ID*7 // the account's id, as GET /app/installations/{id} shows it
	}
	u := g.users[login]
	if u == nil {
		u = &GitHubUser{ID: id, Login: login}
		g.users[login] = u
	}
	if !slices.Contains(u.Installations, in.ID) {
		u.Installations = append(u.Installations, in.ID)
	}
	g.installer[strconv.FormatInt(in.ID, 10)] = login
}

// UserCode issues a single-use authorization code for the user login,
// valid 10 minutes, as GitHub puts on the install redirect.
func (g *GitHub) UserCode(login string) string {
	code := randomHex(10)
	g.mu.Lock()
	g.userCodes[code] = githubUserCode{login: login, expires: g.now().Add(githubCodeTTL)}
	g.mu.Unlock()
	return code
}

// LiveUserTokens counts the user access tokens that still work (issued,
// neither revoked nor expired).
func (g *GitHub) LiveUserTokens() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, t := range g.userTokens {
		if g.now().Before(t.expires) {
			n++
		}
	}
	return n
}

// userToken is POST /login/oauth/access_token for a code: the form's
// client_id, client_secret and code. Like GitHub it answers 200 even when
// it refuses (an error field: incorrect_client_credentials,
// bad_verification_code), form-encoded unless the request accepts JSON.
// redirect_uri is not checked. PKCE is not simulated: the install page
// takes no code_challenge, so the codes it issues have none.
func (g *GitHub) userToken(w http.ResponseWriter, r *http.Request) {
	if status := g.take("user_token"); status != 0 {
		githubError(w, status, "Injected failure")
		return
	}
	_ = r.ParseForm()
	answer := func(v url.Values) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			m := map[string]any{}
			for k := range v {
				m[k] = v.Get(k)
			}
			writeJSON(w, http.StatusOK, m)
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(v.Encode()))
	}
	refuse := func(code, desc string) {
		answer(url.Values{"error": {code}, "error_description": {desc},
			"error_uri": {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"}})
	}
	f := r.PostForm
	if f.Get("client_id") != g.ClientID || subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(g.ClientSecret)) != 1 {
		refuse("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	g.mu.Lock()
	c, ok := g.userCodes[f.Get("code")]
	delete(g.userCodes, f.Get("code")) // single use
	var token string
	if ok && g.now().Before(c.expires) {
		token = "ghu_" + randomHex(18)
		g.userTokens[token] = githubUserToken{login: c.login, expires: g.now().Add(githubUserTokenTTL)}
	}
	g.mu.Unlock()
	if token == "" {
		refuse("bad_verification_code", "The code passed is incorrect or expired.")
		return
	}
	answer(url.Values{"access_token": {token}, "expires_in": {strconv.Itoa(int(githubUserTokenTTL.Seconds()))},
		"refresh_token": {"ghr_" + randomHex(30)}, "refresh_token_expires_in": {"15811200"}, "scope": {""}, "token_type": {"bearer"}})
}

// userInstallations is GET /user/installations with a user access token:
// {"total_count", "installations"} of the App's installations the user can
// access, by id, paginated (two per page at most) with Link rel="next".
func (g *GitHub) userInstallations(w http.ResponseWriter, r *http.Request) {
	g.rateHeaders(w, "core")
	if status := g.take("user_installations"); status != 0 {
		githubError(w, status, "Injected failure")
		return
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		token, _ = strings.CutPrefix(auth, "token ")
	}
	g.mu.Lock()
	t, known := g.userTokens[token]
	var list []map[string]any
	if known && g.now().Before(t.expires) {
		var ids []int64
		if u := g.users[t.login]; u != nil {
			ids = slices.Sorted(slices.Values(u.Installations))
		}
		list = []map[string]any{}
		for _, id := range ids {
			if in := g.installations[strconv.FormatInt(id, 10)]; in != nil {
				list = append(list, g.installationJSON(in))
			}
		}
	}
	per := g.perPage
	g.mu.Unlock()
	if list == nil {
		githubError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	q := r.URL.Query()
	if p, _ := strconv.Atoi(q.Get("per_page")); p > 0 && p < per {
		per = p
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	start := min((page-1)*per, len(list))
	end := min(start+per, len(list))
	if end < len(list) {
		link := func(p int) string {
			q.Set("page", strconv.Itoa(p))
			return g.srv.URL + r.URL.Path + "?" + q.Encode()
		}
		last := (len(list) + per - 1) / per
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, link(page+1), link(last)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "installations": list[start:end]})
}

// revokeUserToken is DELETE /applications/{client_id}/token, authenticated
// with the client id and secret (basic auth), body {"access_token"}: 204
// when the token is revoked, 404 when it is unknown.
func (g *GitHub) revokeUserToken(w http.ResponseWriter, r *http.Request) {
	if status := g.take("revoke_user_token"); status != 0 {
		githubError(w, status, "Injected failure")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != g.ClientID || r.PathValue("client_id") != g.ClientID ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(g.ClientSecret)) != 1 {
		githubError(w, http.StatusUnauthorized, "Requires authentication")
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.AccessToken == "" {
		githubError(w, http.StatusUnprocessableEntity, "Invalid request.")
		return
	}
	g.mu.Lock()
	_, known := g.userTokens[body.AccessToken]
	delete(g.userTokens, body.AccessToken)
	g.mu.Unlock()
	if !known {
		githubError(w, http.StatusNotFound, "Not Found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// installationJSON is an installation as the API shows it; g.mu is held.
func (g *GitHub) installationJSON(in *GitHubInstallation) map[string]any {
	v := map[string]any{
		"id": in.ID, "app_id": g.AppID, "app_slug": g.AppSlug, "target_type": in.TargetType, "target_id": in.ID * 7,
		"account":              map[string]any{"login": in.Login, "id": in.ID * 7, "type": in.TargetType},
		"repository_selection": "selected", "permissions": map[string]string{"issues": "read", "metadata": "read"},
		"events": []string{"issues", "push"}, "suspended_at": nil,
	}
	if in.Suspended {
		v["suspended_at"] = g.now().UTC().Format(time.RFC3339)
	}
	return v
}
