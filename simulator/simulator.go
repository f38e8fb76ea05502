// Package simulator produces webhooks the way the providers send them:
// correctly signed headers and realistic bodies, for tests, benchmarks and
// local experiments.
//
// It signs independently of the provider adapters (it imports none of them),
// following the facts in docs/providers.md, so a test that verifies a simulated
// webhook checks an adapter against the provider's scheme, not against itself.
package simulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func mac(h func() hash.Hash, secret string, body []byte) []byte {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// GitHubWebhook returns the headers GitHub sends with body for event (e.g.
// "issues") and deliveryID: X-GitHub-Event, X-GitHub-Delivery,
// X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256), the legacy
// X-Hub-Signature (sha1) GitHub still adds, the hook headers, Content-Type and
// User-Agent.
func GitHubWebhook(secret, event, deliveryID string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", deliveryID)
	h.Set("X-GitHub-Hook-ID", "292430182")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-GitHub-Hook-Installation-Target-ID", "79929171")
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac(sha256.New, secret, body)))
	h.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(mac(sha1.New, secret, body)))
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/a1b2c3d")
	return h
}

// LinearWebhook returns the headers Linear sends with body: Linear-Signature
// (hex HMAC-SHA256, no prefix), Linear-Event (the body's type), Content-Type,
// User-Agent and, when deliveryID is not "", Linear-Delivery.
func LinearWebhook(secret string, body []byte, deliveryID string) http.Header {
	h := http.Header{}
	h.Set("Linear-Signature", hex.EncodeToString(mac(sha256.New, secret, body)))
	var pl struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &pl) == nil && pl.Type != "" {
		h.Set("Linear-Event", pl.Type)
	}
	if deliveryID != "" {
		h.Set("Linear-Delivery", deliveryID)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("User-Agent", "Linear-Webhook")
	return h
}

// SentryWebhook returns the headers Sentry sends with body for resource (e.g.
// "issue", "installation") at now: Sentry-Hook-Resource,
// Sentry-Hook-Timestamp (unix s), Sentry-Hook-Signature (hex HMAC-SHA256),
// a fresh random Request-ID, Content-Type and User-Agent.
func SentryWebhook(secret, resource string, body []byte, now time.Time) http.Header {
	h := http.Header{}
	h.Set("Sentry-Hook-Resource", resource)
	h.Set("Sentry-Hook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("Sentry-Hook-Signature", hex.EncodeToString(mac(sha256.New, secret, body)))
	h.Set("Request-ID", randomHex(16))
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "sentry-app-webhook")
	return h
}

// VercelWebhook returns the headers Vercel sends with body:
// x-vercel-signature (hex HMAC-SHA1), Content-Type and User-Agent.
func VercelWebhook(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Vercel-Signature", hex.EncodeToString(mac(sha1.New, secret, body)))
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Vercel-Webhooks")
	return h
}

// StandardWebhook returns Standard Webhooks headers for body: webhook-id,
// webhook-timestamp (ts, unix s) and webhook-signature ("v1," + base64
// HMAC-SHA256 of "id.ts.body"), keyed with the base64-decoded part of a
// "whsec_…" secret. A secret that does not decode is used as raw bytes, which
// yields a signature no verifier accepts (handy for wrong-secret tests).
func StandardWebhook(secret, id string, ts time.Time, body []byte) http.Header {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		key = []byte(secret)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + stamp + "."))
	m.Write(body)
	h := http.Header{}
	h.Set("Webhook-Id", id)
	h.Set("Webhook-Timestamp", stamp)
	h.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Relay-Simulator")
	return h
}

// HMACWebhook returns headers for a generic HMAC source: header set to prefix
// + hex HMAC-SHA256 of body, plus Content-Type.
func HMACWebhook(header, prefix, secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set(header, prefix+hex.EncodeToString(mac(sha256.New, secret, body)))
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Relay-Simulator")
	return h
}

// q is s as a JSON string literal.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// GitHubIssuesPayload returns a realistic (about 2 KB) "issues" event body for
// action (e.g. "opened") in repository repoID of installation installationID.
// The repository's name and the issue number vary with repoID, so different
// repositories give different bodies.
func GitHubIssuesPayload(installationID, repoID int64, action string) []byte {
	repo := fmt.Sprintf("repo-%d", repoID)
	number := repoID%10000 + 1
	return fmt.Appendf(nil, `{"action":%s,"issue":{"url":"https://api.github.com/repos/octo-org/%[2]s/issues/%[3]d","repository_url":"https://api.github.com/repos/octo-org/%[2]s","html_url":"https://github.com/octo-org/%[2]s/issues/%[3]d","id":%[4]d,"node_id":"I_kwDOBvQmOc5xyz%[3]d","number":%[3]d,"title":"Spelling error in the README file","user":{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","avatar_url":"https://avatars.githubusercontent.com/u/583231?v=4","html_url":"https://github.com/octocat","type":"User","site_admin":false},"labels":[{"id":208045946,"node_id":"MDU6TGFiZWwyMDgwNDU5NDY=","name":"bug","color":"d73a4a","default":true,"description":"Something isn't working"}],"state":"open","locked":false,"assignee":null,"assignees":[],"milestone":null,"comments":0,"created_at":"2024-05-14T16:08:02Z","updated_at":"2024-05-14T16:08:02Z","closed_at":null,"author_association":"OWNER","body":"It looks like you accidentally spelled 'commit' with two 't's.","reactions":{"total_count":0,"+1":0,"-1":0},"state_reason":null},"repository":{"id":%[5]d,"node_id":"MDEwOlJlcG9zaXRvcnkx%[5]d","name":%[6]s,"full_name":"octo-org/%[2]s","private":false,"owner":{"login":"octo-org","id":6811672,"node_id":"MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=","type":"Organization","site_admin":false},"html_url":"https://github.com/octo-org/%[2]s","description":"This your first repo!","fork":false,"url":"https://api.github.com/repos/octo-org/%[2]s","created_at":"2011-01-26T19:01:12Z","updated_at":"2024-05-14T16:07:54Z","pushed_at":"2024-05-14T16:07:53Z","default_branch":"main","visibility":"public","open_issues_count":1,"topics":[]},"organization":{"login":"octo-org","id":6811672,"node_id":"MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=","url":"https://api.github.com/orgs/octo-org","description":"Octo org"},"sender":{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","avatar_url":"https://avatars.githubusercontent.com/u/583231?v=4","html_url":"https://github.com/octocat","type":"User","site_admin":false},"installation":{"id":%[7]d,"node_id":"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}}`,
		q(action), repo, number, 1000000000+repoID, repoID, q(repo), installationID)
}

// LinearIssuePayload returns a Linear "Issue" "create" webhook body for issue
// issueID in team teamID of organization orgID, with webhookTimestamp = ts in
// milliseconds, from a fixed webhookId.
func LinearIssuePayload(orgID, teamID, issueID string, ts time.Time) []byte {
	return LinearIssuePayloadFrom("f8b0a4c2-3d3e-4b8a-9d55-0c6f1a2b3c4d", orgID, teamID, issueID, ts)
}

// LinearIssuePayloadFrom is LinearIssuePayload as webhook webhookID sends it.
func LinearIssuePayloadFrom(webhookID, orgID, teamID, issueID string, ts time.Time) []byte {
	created := ts.UTC().Format("2006-01-02T15:04:05.000Z")
	return fmt.Appendf(nil, `{"action":"create","actor":{"id":"2e6eea91-1111-0000-9486-acea0603064d","type":"user","name":"Linear User"},"createdAt":%[5]s,"data":{"id":%[3]s,"createdAt":%[5]s,"updatedAt":%[5]s,"number":1234,"title":"Webhook test issue","description":"Created to test webhooks.","priority":2,"priorityLabel":"High","estimate":null,"sortOrder":-1016.52,"teamId":%[2]s,"stateId":"6f2f4e0c-5a2a-4e7b-a1f4-4d2b0d3e6f11","creatorId":"2e6eea91-1111-0000-9486-acea0603064d","labelIds":[],"subscriberIds":["2e6eea91-1111-0000-9486-acea0603064d"],"identifier":"ENG-1234","url":"https://linear.app/acme/issue/ENG-1234/webhook-test-issue","team":{"id":%[2]s,"key":"ENG","name":"Engineering"},"state":{"id":"6f2f4e0c-5a2a-4e7b-a1f4-4d2b0d3e6f11","name":"Todo","color":"#e2e2e2","type":"unstarted"},"labels":[]},"url":"https://linear.app/acme/issue/ENG-1234/webhook-test-issue","type":"Issue","organizationId":%[1]s,"webhookTimestamp":%[4]d,"webhookId":%[6]s}`,
		q(orgID), q(teamID), q(issueID), ts.UnixMilli(), q(created), q(webhookID))
}

// SentryIssuePayload returns a Sentry "issue" "created" webhook body for issue
// issueID (a numeric string, as Sentry sends it) of installation
// installationUUID, in project "1".
func SentryIssuePayload(installationUUID, issueID string) []byte {
	return fmt.Appendf(nil, `{"action":"created","installation":{"uuid":%[1]s},"data":{"issue":{"id":%[2]s,"shareId":null,"shortId":"RELAY-1","title":"ZeroDivisionError: division by zero","culprit":"billing.invoice in compute_total","permalink":null,"logger":null,"level":"error","status":"unresolved","statusDetails":{},"isPublic":false,"platform":"python","project":{"id":"1","name":"backend","slug":"backend","platform":"python"},"type":"error","metadata":{"value":"division by zero","type":"ZeroDivisionError","filename":"billing/invoice.py","function":"compute_total"},"numComments":0,"assignedTo":null,"isBookmarked":false,"isSubscribed":false,"hasSeen":false,"annotations":[],"isUnhandled":true,"count":"1","userCount":0,"firstSeen":"2024-05-14T16:08:02.110000Z","lastSeen":"2024-05-14T16:08:02.110000Z","url":"https://sentry.io/api/0/organizations/acme/issues/%[3]s/","web_url":"https://sentry.io/organizations/acme/issues/%[3]s/","project_url":"https://sentry.io/organizations/acme/issues/?project=1"}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}`,
		q(installationUUID), q(issueID), issueID)
}

// VercelDeploymentPayload returns a Vercel "deployment.created" webhook body
// with delivery id id for project projectID of team teamID ("" gives a
// personal-account body, team null).
func VercelDeploymentPayload(id, teamID, projectID string) []byte {
	team := "null"
	if teamID != "" {
		team = `{"id":` + q(teamID) + `}`
	}
	return fmt.Appendf(nil, `{"id":%[1]s,"type":"deployment.created","createdAt":1715702882110,"region":"iad1","payload":{"team":%[2]s,"user":{"id":"usr_7QbK1sCm9wV2dXyZ"},"deployment":{"id":"dpl_9fQ3uNhZkVd1Xy2bC4mE","meta":{"githubCommitRef":"main","githubCommitSha":"3f1c2a7"},"url":"backend-9fq3unhzk.vercel.app","name":"backend"},"links":{"deployment":"https://vercel.com/acme/backend/9fQ3uNhZkVd1Xy2bC4mE","project":"https://vercel.com/acme/backend"},"target":"production","project":{"id":%[3]s},"plan":"pro","regions":["iad1"]}}`,
		q(id), team, q(projectID))
}
