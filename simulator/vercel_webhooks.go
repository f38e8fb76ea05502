package simulator

import (
	"net/http"
	"strings"
)

// DeploymentWebhook returns a deployment.created delivery (id id, project
// projectID) of the webhook created through the API for the installation
// configurationID, as Vercel sends it: the body names the account's team
// (or, for a personal account, its user) and x-vercel-signature is made
// with that webhook's own secret. Without such a webhook the signature uses
// an empty secret, which verifies nowhere.
func (v *Vercel) DeploymentWebhook(configurationID, id, projectID string) ([]byte, http.Header) {
	v.mu.Lock()
	var team, user, secret string
	if a, ok := v.accounts[configurationID]; ok {
		team, user = a.TeamID, a.UserID
	}
	for _, w := range v.webhooks {
		if w.ConfigurationID == configurationID {
			secret = w.Secret
		}
	}
	v.mu.Unlock()
	body := VercelDeploymentPayload(id, team, projectID)
	if user != "" {
		body = []byte(strings.Replace(string(body), `"user":{"id":"usr_7QbK1sCm9wV2dXyZ"}`, `"user":{"id":`+q(user)+`}`, 1))
	}
	return body, VercelWebhook(secret, body)
}
