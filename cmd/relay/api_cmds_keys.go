package main

// The API key verbs: relay keys ls|revoke|add, which talk to a running
// Relay like the verbs of api_cmds.go. `relay keys rotate` (connections.go)
// shares the command's name but works on the database directly: it
// re-encrypts the token vault, and has nothing to do with API keys.

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
)

// keysUsage is the help of `relay keys`, which covers both kinds of key.
const keysUsage = `Usage: relay keys <sub-command> [flags]

API keys (through a running Relay's API; --url and --api-key, or RELAY_URL
and RELAY_API_KEY):
  ls            list API keys: id, org, name, prefix, created, last used
  revoke ID     revoke an API key at once (other replicas within 5 s)
  add           create an admin API key (admin key), e.g. to rotate the admin key

Token vault encryption keys (on the database directly, like relay migrate):
  rotate        re-encrypt every stored token under the first of encryption.keys

An admin key sees and revokes every API key; an org-scoped key sees and revokes
its own org's only. The last admin key cannot be revoked: add another first.
Run 'relay keys <sub-command> --help' for its flags.
`

// cmdAPIKeys runs `relay keys ls|revoke|add`; cmdKeys sends it every
// sub-command but rotate. Help returns nil.
func cmdAPIKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: missing sub-command: want one of %s, rotate", cliKeysGroup.names())
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	for _, v := range cliKeysGroup.verbs {
		if v.name == args[0] {
			return cliRunGroup(ctx, cliKeysGroup, args, cliNewEnv(getenv, stdout, stderr))
		}
	}
	return fmt.Errorf("keys: unknown sub-command %q: want one of %s, rotate", args[0], cliKeysGroup.names())
}

var cliKeysGroup = &cliGroup{
	name:  "keys",
	about: "Lists, revokes and creates API keys.",
	verbs: []*cliVerb{
		{
			name: "ls", summary: "list API keys",
			about: "Lists the API keys the key in use may see (every key for an admin key, its own\n" +
				"org's for an org key): id, org, name, prefix (the key's first characters, to\n" +
				"recognise it; keys made before Relay kept it have none), when it was created\n" +
				"and last used (recorded about once a minute). Never a key itself.",
			setup: cliKeysLs,
		},
		{
			name: "revoke", args: "KEY_ID", nargs: 1, summary: "revoke an API key",
			about: "Revokes an API key: it stops working at once on the Relay that answers, and\n" +
				"within 5 seconds on its other replicas. An org key revokes its own org's keys\n" +
				"only. The last admin key cannot be revoked: create another with 'relay keys add'\n" +
				"first.",
			setup: cliKeysRevoke,
		},
		{
			name: "add", summary: "create an admin API key (admin key)",
			about: "Creates an admin API key and prints it on stdout. It is shown only this once:\n" +
				"Relay keeps only its hash. To rotate the admin key, add a new one, switch to\n" +
				"it, then revoke the old one (or set admin_api_key and restart).",
			setup: cliKeysAdd,
		},
	},
}

func cliKeysLs(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	asJSON := fs.Bool("json", false, "print the API's JSON")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		keys, err := c.ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return cliPrintJSON(env.stdout, relay.Page[*relay.APIKey]{Items: keys})
		}
		tw := cliTable(env.stdout)
		cliRow(tw, "ID", "ORG", "NAME", "PREFIX", "CREATED", "LAST USED")
		for _, k := range keys {
			org := k.OrgID
			if org == "" {
				org = "(admin)"
			}
			prefix := k.Prefix
			if prefix == "" {
				prefix = "-"
			}
			cliRow(tw, k.ID, org, k.Name, prefix, cliTime(k.CreatedAt), cliTime(k.LastUsedAt))
		}
		return tw.Flush()
	}
}

func cliKeysRevoke(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, args []string) error {
		if err := c.RevokeAPIKey(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Revoked API key %s.\n", args[0])
		return nil
	}
}

func cliKeysAdd(fs *flag.FlagSet, env *cliEnv) cliRunFunc {
	name := fs.String("name", "", "a name for the key (required; not \"admin\" nor \"admin (config)\")")
	asJSON := fs.Bool("json", false, "print the API's JSON, key included")
	return func(ctx context.Context, env *cliEnv, c *relayhttp.Client, _ []string) error {
		k, secret, err := c.CreateAdminAPIKey(ctx, *name)
		if err != nil {
			return err
		}
		// The key alone goes to stdout, for scripts; the warning to stderr.
		fmt.Fprintf(env.stderr, "Created admin API key %s (%s).\n"+
			"The key is shown only now and cannot be shown again: store it.\n", k.ID, k.Name)
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
