package simulator

import (
	"net/http"
	"time"
)

// Webhook returns the workspace's most recently created webhook (one
// webhookCreate made), false when it has none.
func (l *Linear) Webhook(orgID string) (LinearAPIWebhook, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last LinearAPIWebhook
	found := false
	for _, w := range l.webhooks {
		if w.OrgID == orgID && (!found || w.seq > last.seq) {
			last, found = w, true
		}
	}
	return last, found
}

// IssueWebhook returns an Issue.create delivery of the workspace's webhook
// (Webhook) as Linear sends it: the body names the webhook's id and the
// organization, and Linear-Signature is made with that webhook's own
// secret. Without a webhook, the body names an unknown webhook and the
// signature uses an empty secret, which verifies nowhere.
func (l *Linear) IssueWebhook(orgID, teamID, issueID string, ts time.Time) ([]byte, http.Header) {
	hook, ok := l.Webhook(orgID)
	if !ok {
		hook.ID = "wh-none"
	}
	body := LinearIssuePayloadFrom(hook.ID, orgID, teamID, issueID, ts)
	return body, LinearWebhook(hook.Secret, body, "")
}
