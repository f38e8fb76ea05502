package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	relayhttp "github.com/relayhq/relay/http"
)

// cliConnectionsSession is `relay connections session ORG`: it creates a
// connect page for the org's customer and prints its URL.
func cliConnectionsSession(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	returnURL := fs.String("return-url", "", "where the browser goes after each connection: your app's http(s) `URL` (required)")
	providers := fs.String("providers", "", "comma-separated `providers` the page offers (default: every provider with a connect flow)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		if *returnURL == "" {
			return errors.New("--return-url is required")
		}
		var list []string
		for _, p := range strings.Split(*providers, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		s, token, u, err := c.CreateConnectSession(ctx, args[0], list, *returnURL)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, map[string]any{"id": s.ID, "org_id": s.OrgID, "providers": s.Providers,
				"return_url": s.ReturnURL, "expires_at": s.ExpiresAt, "created_at": s.CreatedAt, "connected": s.Connected,
				"token": token, "url": u})
		}
		// The URL alone goes to stdout, for scripts; the rest to stderr.
		fmt.Fprintf(env.stderr, "Send your customer to this page to connect %s to org %s (it expires at %s):\n",
			strings.Join(s.Providers, ", "), s.OrgID, cliTime(s.ExpiresAt))
		fmt.Fprintln(env.stdout, u)
		return nil
	}
}
