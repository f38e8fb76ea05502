package main

// The org and connection verbs: relay orgs ls|show|add|key and relay
// connections ls|show|connect|token|rm, over the API like the others.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
)

// cmdOrgs runs `relay orgs ls|show|add|key`. Help returns nil.
func cmdOrgs(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliOrgsGroup, args, cliNewEnv(getenv, stdout, stderr))
}

// cmdConnections runs `relay connections ls|show|connect|token|rm`. Help returns nil.
func cmdConnections(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliConnectionsGroup, args, cliNewEnv(getenv, stdout, stderr))
}

var cliOrgsGroup = &cliGroup{
	name:  "orgs",
	about: "Lists and creates orgs (the tenants of your app) and their org-scoped API keys.",
	verbs: []*cliVerb{
		{name: "ls", summary: "list orgs (admin key)", about: "Lists every org.", setup: cliOrgsLs},
		{name: "show", args: "ORG", nargs: 1, summary: "show an org", about: "Shows one org.", setup: cliOrgsShow},
		{name: "add", args: "ID", nargs: 1, summary: "create an org (admin key)",
			about: "Creates an org. ID is your app's own id for it (letters, digits, . _ : @ -).", setup: cliOrgsAdd},
		{name: "key", args: "ORG", nargs: 1, summary: "create an API key scoped to the org (admin key)",
			about: "Creates an API key that sees and changes only this org's connections, events and\n" +
				"deliveries. The key is printed once; Relay keeps only its hash.", setup: cliOrgsKey},
	},
}

var cliConnectionsGroup = &cliGroup{
	name:  "connections",
	about: "Lists, connects, inspects and tears down orgs' provider connections.",
	verbs: []*cliVerb{
		{name: "ls", summary: "list connections", about: "Lists connections (an org key sees its org's only).", setup: cliConnectionsLs},
		{name: "show", args: "ID", nargs: 1, summary: "show a connection and its resources",
			about: "Shows a connection, its status and teardown progress, and its resources.", setup: cliConnectionsShow},
		{name: "connect", args: "ORG PROVIDER", nargs: 2, summary: "start a connect flow; prints the URL to open",
			about: "Starts a connect flow for ORG with PROVIDER (github, linear, sentry, vercel) and prints\n" +
				"the URL to open in a browser. After consent the browser returns to --return-url with\n" +
				"connection_id and status (or error).", setup: cliConnectionsConnect},
		{name: "token", args: "ID", nargs: 1, summary: "print a usable access token",
			about: "Prints a usable access token for the connection on stdout (refreshed first if it\n" +
				"expires within 5 minutes) and its expiry on stderr.", setup: cliConnectionsToken},
		{name: "rm", args: "ID", nargs: 1, summary: "tear a connection down",
			about: "Starts the teardown: provider webhooks removed, token revoked, connection and\n" +
				"resources soft-deleted. Connecting the same account again revives it.", setup: cliConnectionsRm},
	},
}

func cliOrgsLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		orgs, err := c.ListOrgs(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, orgs)
		}
		if len(orgs) == 0 {
			fmt.Fprintln(env.stdout, "No orgs.")
			return nil
		}
		tw := cliTable(env.stdout)
		cliRow(tw, "ID", "NAME", "CREATED")
		for _, o := range orgs {
			cliRow(tw, o.ID, o.Name, cliTime(o.CreatedAt))
		}
		return tw.Flush()
	}
}

func cliOrgsShow(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		o, err := c.GetOrg(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, o)
		}
		cliFields(env.stdout, "ID", o.ID, "Name", o.Name, "Created", cliTime(o.CreatedAt))
		return nil
	}
}

func cliOrgsAdd(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	name := fs.String("name", "", "a display name")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		o, err := c.CreateOrg(ctx, args[0], *name)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, o)
		}
		fmt.Fprintf(env.stdout, "Created org %s.\n", o.ID)
		return nil
	}
}

func cliOrgsKey(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	name := fs.String("name", "", "a name for the key")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		k, secret, err := c.CreateOrgAPIKey(ctx, args[0], *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "Created API key %s for org %s. It is shown only now; store it:\n", k.ID, k.OrgID)
		fmt.Fprintln(env.stdout, secret)
		return nil
	}
}

func cliConnectionsLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	var f relay.ConnectionFilter
	fs.StringVar(&f.Provider, "provider", "", "only this provider's connections")
	fs.StringVar(&f.OrgID, "org", "", "only this org's connections (admin key)")
	fs.BoolVar(&f.IncludeDeleted, "all", false, "include torn-down connections")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		cs, err := c.ListConnections(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, cs)
		}
		if len(cs) == 0 {
			fmt.Fprintln(env.stdout, "No connections.")
			return nil
		}
		tw := cliTable(env.stdout)
		cliRow(tw, "ID", "ORG", "PROVIDER", "ACCOUNT", "STATUS", "UPDATED")
		for _, k := range cs {
			acct := k.ExternalID
			if k.AccountName != "" {
				acct += " (" + k.AccountName + ")"
			}
			cliRow(tw, k.ID, k.OrgID, k.Provider, acct, k.Status, cliTime(k.UpdatedAt))
		}
		return tw.Flush()
	}
}

func cliConnectionsShow(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		k, rs, err := c.GetConnection(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, struct {
				*relay.Connection
				Resources []*relay.Resource `json:"resources"`
			}{k, rs})
		}
		var meta []string
		for key, v := range k.Metadata {
			meta = append(meta, key+"="+v)
		}
		sort.Strings(meta)
		deleted := ""
		if k.DeletedAt != nil {
			deleted = cliTime(*k.DeletedAt)
		}
		cliFields(env.stdout, "ID", k.ID, "Org", k.OrgID, "Provider", k.Provider, "Account", k.ExternalID,
			"Account name", k.AccountName, "Status", k.Status, "Reason", k.StatusReason, "Token expires", cliTime(k.TokenExpiresAt),
			"Teardown", k.Teardown, "Metadata", strings.Join(meta, " "), "Created", cliTime(k.CreatedAt), "Deleted", deleted)
		if len(rs) > 0 {
			fmt.Fprintln(env.stdout)
			tw := cliTable(env.stdout)
			cliRow(tw, "RESOURCE", "KIND", "NAME")
			for _, r := range rs {
				cliRow(tw, r.ExternalID, r.Kind, r.Name)
			}
			return tw.Flush()
		}
		return nil
	}
}

func cliConnectionsConnect(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	returnURL := fs.String("return-url", "", "where the browser goes after the flow (required)")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		if *returnURL == "" {
			return relay.Errorf(relay.EINVALID, "--return-url is required")
		}
		u, exp, err := c.AuthorizeConnection(ctx, args[0], args[1], *returnURL)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "Open this URL to connect %s for org %s (valid until %s):\n", args[1], args[0], cliTime(exp))
		fmt.Fprintln(env.stdout, u)
		return nil
	}
}

func cliConnectionsToken(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		t, err := c.ConnectionToken(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, t.AccessToken)
		if !t.ExpiresAt.IsZero() {
			fmt.Fprintf(env.stderr, "expires %s\n", cliTime(t.ExpiresAt))
		}
		return nil
	}
}

func cliConnectionsRm(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		k, err := c.DeleteConnection(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Teardown of %s started (%s); follow it with 'relay connections show %s'.\n", k.ID, k.Teardown, k.ID)
		return nil
	}
}
