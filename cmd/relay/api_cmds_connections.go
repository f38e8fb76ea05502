package main

// The org and connection verbs: relay orgs ls|show|add|key, relay
// connections ls|show|token|rm|connect, and relay connect (short for
// relay connections connect). They talk to a running Relay like the verbs
// of api_cmds.go, whose helpers they use.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
)

// cmdOrgs runs `relay orgs ls|show|add|key`. Help returns nil.
func cmdOrgs(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliOrgsGroup, args, cliNewEnv(getenv, stdout, stderr))
}

// cmdConnections runs `relay connections ls|show|token|rm|connect`. Help
// returns nil.
func cmdConnections(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cliRunGroup(ctx, cliConnectionsGroup, args, cliNewEnv(getenv, stdout, stderr))
}

// cmdConnect runs `relay connect ORG PROVIDER --return-url URL`, the
// shorthand of `relay connections connect` (whose name its help and errors
// use). Help returns nil.
func cmdConnect(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cmdConnections(ctx, append([]string{"connect"}, args...), getenv, stdout, stderr)
}

// cliProviders are the providers with a connect flow, for help texts.
const cliProviders = "github, linear, sentry, vercel"

// ---- relay orgs ----

var cliOrgsGroup = &cliGroup{
	name: "orgs",
	about: "Lists and creates orgs, the tenants of your app, and their org-scoped API keys.\n" +
		"Creating orgs and keys and listing orgs need an admin API key.",
	verbs: []*cliVerb{
		{
			name: "ls", summary: "list orgs (admin key)",
			about: "Lists every org.",
			setup: cliOrgsLs,
		},
		{
			name: "show", args: "ORG", nargs: 1, summary: "show an org",
			about: "Shows one org. An org-scoped key sees its own org only.",
			setup: cliOrgsShow,
		},
		{
			name: "add", args: "ID", nargs: 1, summary: "create an org (admin key)",
			about: "Creates an org. ID is your app's own id for the tenant: 1-128 letters, digits\n" +
				"and . _ : @ - (starting with a letter or digit).",
			setup: cliOrgsAdd,
		},
		{
			name: "key", args: "ORG", nargs: 1, summary: "create an API key scoped to the org (admin key)",
			about: "Creates an API key that sees and changes only this org's connections, events and\n" +
				"deliveries, and prints it on stdout. It is shown only this once: Relay keeps\n" +
				"only its hash.",
			setup: cliOrgsKey,
		},
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
			return cliPrintJSON(env.stdout, relay.Page[*relay.Org]{Items: orgs})
		}
		if len(orgs) == 0 {
			fmt.Fprintln(env.stdout, "No orgs. Add one with 'relay orgs add ID --name NAME'.")
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
		cliPrintOrg(env.stdout, o)
		return nil
	}
}

func cliOrgsAdd(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	name := fs.String("name", "", "a display name, up to 200 characters")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		o, err := c.CreateOrg(ctx, args[0], *name)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, o)
		}
		fmt.Fprintf(env.stdout, "Created org %s.\n\n", o.ID)
		cliPrintOrg(env.stdout, o)
		fmt.Fprintf(env.stdout, "\nGive your app a key of its own with 'relay orgs key %s', and connect a\n"+
			"provider with 'relay connect %s PROVIDER --return-url URL'.\n", o.ID, o.ID)
		return nil
	}
}

func cliOrgsKey(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	name := fs.String("name", "", "a name for the key (default \"org ORG\")")
	asJSON := fs.Bool("json", false, "print the API's JSON, key included")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		k, secret, err := c.CreateOrgAPIKey(ctx, args[0], *name)
		if err != nil {
			return err
		}
		// The key alone goes to stdout, for scripts; the warning to stderr.
		fmt.Fprintf(env.stderr, "Created API key %s (%s) for org %s.\n"+
			"The key is shown only now and cannot be shown again: store it.\n", k.ID, k.Name, k.OrgID)
		if *asJSON {
			return cliPrintJSON(env.stdout, struct {
				*relay.APIKey
				Key string `json:"key"`
			}{k, secret})
		}
		fmt.Fprintln(env.stdout, secret)
		return nil
	}
}

func cliPrintOrg(w io.Writer, o *relay.Org) {
	cliFields(w, "ID", o.ID, "Name", o.Name, "Created", cliTime(o.CreatedAt))
}

// ---- relay connections ----

var cliConnectionsGroup = &cliGroup{
	name: "connections",
	about: "Lists, inspects and tears down orgs' provider connections (a GitHub App\n" +
		"installation, a Linear workspace, …), prints their access tokens, and starts\n" +
		"connect flows. An org-scoped key sees its own org's connections only.",
	verbs: []*cliVerb{
		{
			name: "ls", summary: "list connections",
			about: "Lists connections, torn-down ones too with --all.",
			setup: cliConnectionsLs,
		},
		{
			name: "show", args: "ID", nargs: 1, summary: "show a connection and its resources",
			about: "Shows a connection: its status, teardown progress and metadata, and the\n" +
				"resources (repositories, projects, teams) whose events route to it.",
			setup: cliConnectionsShow,
		},
		{
			name: "token", args: "ID", nargs: 1, summary: "print a usable access token",
			about: "Prints a usable access token of the connection alone on stdout, for scripts\n" +
				"(TOKEN=$(relay connections token ID)), and its expiry on stderr. Relay refreshes\n" +
				"the token first when it is about to expire. The connection must be active.",
			setup: cliConnectionsToken,
		},
		{
			name: "rm", args: "ID", nargs: 1, summary: "tear a connection down",
			about: "Starts the teardown: provider webhooks deregistered, token revoked, connection and\n" +
				"resources soft-deleted. It goes on in the background; 'relay connections show ID'\n" +
				"follows it. Connecting the same account again revives the connection.",
			setup: cliConnectionsRm,
		},
		{
			name: "connect", args: "ORG PROVIDER", nargs: 2, summary: "start a connect flow (also 'relay connect')",
			about: "Starts a connect flow of ORG with PROVIDER (" + cliProviders + ") and prints\n" +
				"the URL to open in a browser on stdout, and when it expires on stderr. The\n" +
				"first browser to open the URL is the only one that can finish the flow: open\n" +
				"it yourself, in the browser you consent in; do not forward it. After consent\n" +
				"the browser returns to --return-url (on an origin allowed by\n" +
				"connect.allowed_return_origins) with connection_id and status (or error) in\n" +
				"its query. 'relay connect ORG PROVIDER' is short for this.",
			setup: cliConnectionsConnect,
		},
		{
			name: "session", args: "ORG", nargs: 1, summary: "create a connect page for the org's customer",
			about: "Creates a connect session and prints its page's URL on stdout: a page on Relay,\n" +
				"valid 30 minutes, where the org's customer connects the offered providers\n" +
				"(--providers, default every provider with a connect flow) without your app\n" +
				"handling OAuth redirects. After each connection the browser goes to --return-url\n" +
				"(on an origin allowed by connect.allowed_return_origins) with provider and\n" +
				"connection_id and status (or error). Each provider connects once per page.",
			setup: cliConnectionsSession,
		},
	},
}

func cliConnectionsLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	var f relay.ConnectionFilter
	fs.StringVar(&f.Provider, "provider", "", "only this `provider`'s connections ("+cliProviders+")")
	fs.StringVar(&f.OrgID, "org", "", "only this org's connections")
	fs.BoolVar(&f.IncludeDeleted, "all", false, "include torn-down connections")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		cs, err := c.ListConnections(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, relay.Page[*relay.Connection]{Items: cs})
		}
		if len(cs) == 0 {
			fmt.Fprintln(env.stdout, "No connections. Start one with 'relay connect ORG PROVIDER --return-url URL'.")
			return nil
		}
		tw := cliTable(env.stdout)
		cliRow(tw, "ID", "ORG", "PROVIDER", "ACCOUNT", "STATUS", "UPDATED")
		for _, k := range cs {
			cliRow(tw, k.ID, k.OrgID, k.Provider, cliAccount(k), cliConnStatus(k), cliTime(k.UpdatedAt))
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
			if rs == nil {
				rs = []*relay.Resource{}
			}
			return cliPrintJSON(env.stdout, struct {
				*relay.Connection
				Resources []*relay.Resource `json:"resources"`
			}{k, rs})
		}
		w := env.stdout
		var meta []string
		for _, key := range slices.Sorted(maps.Keys(k.Metadata)) {
			meta = append(meta, key+"="+k.Metadata[key])
		}
		deleted := ""
		if k.DeletedAt != nil {
			deleted = cliTime(*k.DeletedAt)
		}
		cliFields(w,
			"ID", k.ID,
			"Org", k.OrgID,
			"Provider", k.Provider,
			"Account", cliAccount(k),
			"Status", k.Status,
			"Reason", k.StatusReason,
			"Teardown", k.Teardown,
			"Token expires", strings.TrimPrefix(cliTime(k.TokenExpiresAt), "-"),
			"Metadata", strings.Join(meta, " "),
			"Created", cliTime(k.CreatedAt),
			"Updated", cliTime(k.UpdatedAt),
			"Deleted", deleted,
		)
		fmt.Fprintf(w, "\nResources (%d):\n", len(rs))
		if len(rs) == 0 {
			fmt.Fprintln(w, "None.")
			return nil
		}
		tw := cliTable(w)
		cliRow(tw, "ID", "KIND", "NAME", "ADDED")
		for _, r := range rs {
			cliRow(tw, r.ExternalID, r.Kind, r.Name, cliTime(r.CreatedAt))
		}
		return tw.Flush()
	}
}

func cliConnectionsToken(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		t, err := c.ConnectionToken(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, t)
		}
		fmt.Fprintln(env.stdout, t.AccessToken)
		if t.ExpiresAt.IsZero() {
			fmt.Fprintln(env.stderr, "The token does not expire.")
		} else {
			fmt.Fprintf(env.stderr, "The token expires at %s (in %s).\n", cliTime(t.ExpiresAt),
				max(0, t.ExpiresAt.Sub(env.now())).Round(time.Second))
		}
		return nil
	}
}

func cliConnectionsRm(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		k, err := c.DeleteConnection(ctx, args[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, k)
		}
		if k.DeletedAt != nil {
			fmt.Fprintf(env.stdout, "Connection %s was already torn down (%s).\n", k.ID, cliTime(*k.DeletedAt))
			return nil
		}
		fmt.Fprintf(env.stdout, "Teardown of %s started: status %s, teardown %s.\n"+
			"Follow it with 'relay connections show %s'.\n", k.ID, k.Status, cliCell(k.Teardown, 40), k.ID)
		return nil
	}
}

func cliConnectionsConnect(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	returnURL := fs.String("return-url", "", "where the browser goes when the flow ends: your app's http(s) `URL` (required)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		if *returnURL == "" {
			return errors.New("--return-url is required")
		}
		org, provider := args[0], args[1]
		u, exp, err := c.AuthorizeConnection(ctx, org, provider, *returnURL)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, map[string]any{"authorize_url": u, "expires_at": exp})
		}
		// The URL alone goes to stdout, for scripts; the rest to stderr.
		fmt.Fprintf(env.stderr, "Open this URL in a browser to connect %s to org %s (it expires at %s; "+
			"only the first browser to open it can finish, so do not forward it):\n", provider, org, cliTime(exp))
		fmt.Fprintln(env.stdout, u)
		return nil
	}
}

// cliAccount names a connection's provider account: its id, and its name
// when known.
func cliAccount(k *relay.Connection) string {
	if k.AccountName == "" {
		return k.ExternalID
	}
	return k.ExternalID + " (" + k.AccountName + ")"
}

// cliConnStatus is a connection's status, with its teardown while one runs.
func cliConnStatus(k *relay.Connection) string {
	if k.Teardown == "" || k.Teardown == "done" {
		return k.Status
	}
	return k.Status + ", teardown " + k.Teardown
}
