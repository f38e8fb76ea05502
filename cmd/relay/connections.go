package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/bridge"
	"github.com/relayhq/relay/config"
	"github.com/relayhq/relay/persona"
	"github.com/relayhq/relay/postgres"
	"github.com/relayhq/relay/resolve"
	"github.com/relayhq/relay/riverjobs"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/vault"
)

// keyFileName is the generated vault key in the data dir, used when
// encryption.keys is not set.
const keyFileName = "relay.key"

// errKeyFileRaced: another process created the key file between our look
// and our write; starting again reads its key.
var errKeyFileRaced = errors.New("key file created meanwhile by another process")

// openSealedStore opens the configured database with the vault's keyring as
// the store's sealer, migrates it, and checks that the keyring opens what is
// stored: Relay refuses to start when a stored token or secret is sealed
// under a key that is not configured, rather than run unable to read it.
// When no key is configured and the data dir holds no key file, a key is
// generated — and written to the key file only once the database is known
// to hold no sealed value, so a lost key file is reported, not replaced.
// Destination secrets an earlier version stored in clear are sealed last.
func openSealedStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (Store, string, *vault.Keyring, error) {
	for range 2 {
		store, kind, ring, err := tryOpenSealedStore(ctx, cfg, logger)
		if errors.Is(err, errKeyFileRaced) {
			continue
		}
		return store, kind, ring, err
	}
	return nil, "", nil, fmt.Errorf("vault: the key file in %s keeps changing while starting; is another relay starting on the same data dir?", cfg.DataDir)
}

func tryOpenSealedStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (Store, string, *vault.Keyring, error) {
	keys, keyFile, generated, err := vaultKeys(cfg)
	if err != nil {
		return nil, "", nil, err
	}
	var newKey []byte
	if generated {
		newKey = keys[0]
	}
	ring, err := vault.New(keys)
	if err != nil {
		return nil, "", nil, err
	}
	store, kind, err := openStore(ctx, cfg, ring)
	if err != nil {
		return nil, "", nil, err
	}
	if err := checkSealed(ctx, store, kind, ring, keyFile, newKey); err != nil {
		store.Close()
		return nil, "", nil, err
	}
	if keyFile != "" {
		msg := "no encryption.keys configured: tokens and secrets are encrypted with the key in this file; back it up"
		if generated {
			msg = "no encryption.keys configured: generated a key for the vault; back it up"
		}
		if kind == "postgres" {
			msg += "; every replica must use the same key, so set encryption.keys (RELAY_ENCRYPTION_KEYS)"
		}
		logger.Warn(msg, "key_file", keyFile, "key_id", ring.PrimaryID())
	}
	n, err := store.SealPlaintextSecrets(ctx)
	if err != nil {
		store.Close()
		return nil, "", nil, err
	}
	if n > 0 {
		logger.Info("destination secrets stored in clear by an earlier version are now encrypted", "destinations", n)
	}
	return store, kind, ring, nil
}

// vaultKeys returns the configured keys, or the key of the key file in the
// data dir (keyFile names it), or a new key for it (generated: not written
// yet; checkSealed writes it).
func vaultKeys(cfg *config.Config) (keys [][]byte, keyFile string, generated bool, err error) {
	if len(cfg.Encryption.Keys) > 0 {
		keys, err := vault.ParseKeys(cfg.Encryption.Keys)
		if err != nil {
			return nil, "", false, fmt.Errorf("config: encryption.keys%w", err)
		}
		return keys, "", false, nil
	}
	if err := privateDataDir(cfg.DataDir); err != nil {
		return nil, "", false, err
	}
	keyFile = filepath.Join(cfg.DataDir, keyFileName)
	key, err := vault.LoadKeyFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = vault.NewKey()
		return [][]byte{key}, keyFile, true, err
	}
	return [][]byte{key}, keyFile, false, err
}

// checkSealed migrates the store and refuses it when it holds values sealed
// under keys ring does not have, naming them and where keys come from.
// newKey is ring's key when it was just generated (no key configured, no key
// file): once the check passes the database holds no sealed value at all,
// and newKey is written to keyFile.
func checkSealed(ctx context.Context, store relay.Store, kind string, ring *vault.Keyring, keyFile string, newKey []byte) error {
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	ids, err := store.SealedKeyIDs(ctx)
	if err != nil {
		return err
	}
	if missing := ring.Missing(ids); len(missing) > 0 {
		msg := fmt.Sprintf("vault: the database holds tokens or secrets encrypted under key %s, which is not configured", strings.Join(missing, ", "))
		switch {
		case keyFile == "":
			msg += "; keys come from encryption.keys (RELAY_ENCRYPTION_KEYS): add that key back to the list"
		case newKey != nil:
			msg += fmt.Sprintf("; keys come from encryption.keys (RELAY_ENCRYPTION_KEYS), or when it is empty from the key file %s, which is missing: restore it from a backup, or set encryption.keys to the key (no new key file was generated: it would open none of them)", keyFile)
		default:
			msg += fmt.Sprintf("; keys come from encryption.keys (RELAY_ENCRYPTION_KEYS), or when it is empty from the key file %s, which holds another key (%s): restore the right one from a backup, or set encryption.keys to the key", keyFile, ring.PrimaryID())
		}
		if kind == "postgres" && keyFile != "" {
			msg += "; replicas on one PostgreSQL database must all be given the same encryption.keys"
		}
		return errors.New(msg)
	}
	if newKey == nil {
		return nil
	}
	stored, created, err := vault.CreateKeyFile(keyFile, newKey)
	if err != nil {
		return err
	}
	if !created && !bytes.Equal(stored, newKey) {
		return errKeyFileRaced
	}
	return nil
}

// privateDataDir creates the data dir 0700 when it is missing, and refuses
// one that group or others may read or write: it holds the database and may
// hold the vault key.
func privateDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o066 != 0 {
		return fmt.Errorf("data dir %s has mode %04o: group or others may read or write it, and it holds the database and the vault key; run: chmod 700 %s", dir, perm, dir)
	}
	return nil
}

// resolverChains builds the configured resolver chains by provider, each
// step with the provider API client it needs.
func resolverChains(cfg *config.Config) (map[string][]relay.Resolver, error) {
	p := cfg.Providers
	var bc *bridge.Client
	var pc *persona.Client
	chains := map[string][]relay.Resolver{}
	for i, r := range cfg.Resolve.Resolvers {
		var step relay.Resolver
		switch r.Type {
		case "bridge_customer":
			if bc == nil {
				bc = bridge.NewClient(bridge.ClientConfig{APIURL: p.Bridge.APIURL, APIKey: p.Bridge.APIKey})
			}
			step = &bridge.CustomerResolver{Client: bc}
		case "persona_accounts_by_email":
			if pc == nil {
				pc = persona.NewClient(persona.ClientConfig{APIURL: p.Persona.APIURL, APIKey: p.Persona.APIKey, EmailField: p.Persona.EmailField})
			}
			step = &persona.EmailResolver{Client: pc}
		case "payload":
			step = &resolve.PayloadResolver{Path: r.Path, As: r.As}
		case "http":
			step = &resolve.HTTPResolver{URL: r.LookupURL, Secret: r.Secret}
		default:
			return nil, fmt.Errorf("config: resolve.resolvers[%d].type: unknown %q", i, r.Type)
		}
		chains[r.Provider] = append(chains[r.Provider], step)
	}
	return chains, nil
}

// cmdKeys runs `relay keys rotate`, and the API key verbs (ls, revoke,
// add) through cmdAPIKeys.
func cmdKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return cmdAPIKeys(ctx, args, getenv, stdout, stderr)
	}
	f := newServerFlags("keys rotate", "Re-encrypts every stored token and secret under the first key of encryption.keys, bound to\n"+
		"the row it belongs to (older values, sealed unbound, are bound too).\n"+
		"Rotate an encryption key by putting the new key first (keeping the old one after it),\n"+
		"running this, then removing the old key. (API keys are 'relay keys ls|revoke|add'.)", getenv, stderr)
	cfg, err := f.load(args[1:], getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	store, _, ring, err := openSealedStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := store.ResealAll(ctx, ring.Reseal)
	if err != nil {
		return fmt.Errorf("keys rotate: %d tokens and secrets re-encrypted before: %w", n, err)
	}
	fmt.Fprintf(stdout, "%d tokens and secrets now encrypted under key %s\n", n, ring.PrimaryID())
	return nil
}

// openJobs opens River on the store's database; its jobs are worked once
// started.
func openJobs(ctx context.Context, store Store, opts riverjobs.Options, logger *slog.Logger) (*riverjobs.Queue, error) {
	switch st := store.(type) {
	case *sqlite.Store:
		return riverjobs.OpenSQLite(ctx, st.Path(), opts, logger)
	case *postgres.Store:
		return riverjobs.OpenPostgres(ctx, st.Pool(), opts, logger)
	default:
		return nil, fmt.Errorf("jobs: no River driver for %T", store)
	}
}

// migrateJobs applies River's migrations to the store's database, so that
// `relay migrate` leaves nothing for a starting replica to create.
func migrateJobs(ctx context.Context, store Store, logger *slog.Logger) error {
	switch st := store.(type) {
	case *sqlite.Store:
		return riverjobs.MigrateSQLite(ctx, st.Path(), logger)
	case *postgres.Store:
		return riverjobs.MigratePostgres(ctx, st.Pool(), logger)
	default:
		return fmt.Errorf("jobs: no River driver for %T", store)
	}
}
