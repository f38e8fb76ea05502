package relay

import "time"

// The rules a store applies when it writes a connection over the account's
// existing row. They are decided here once; each store only reads the row
// and writes the result in its own SQL.

// Revive prepares c to be written over old, the stored row of the same
// account (UpsertConnection): c keeps old's ID and CreatedAt, and old's
// TokenExpiresAt, since the expiry changes only with a token. A live
// connection of another org is not taken over: ECONFLICT.
func (c *Connection) Revive(old *Connection) error {
	if old.DeletedAt == nil && old.OrgID != c.OrgID {
		return Errorf(ECONFLICT, "%s account %s is connected to another org", c.Provider, c.ExternalID)
	}
	c.ID, c.CreatedAt, c.TokenExpiresAt = old.ID, old.CreatedAt, old.TokenExpiresAt
	return nil
}

// RevivePaired prepares c to be paired over old, the stored row of the same
// account (PairConnection): only a deleted connection is revived, keeping
// its ID and CreatedAt; a live one, of any org, is ECONFLICT.
func (c *Connection) RevivePaired(old *Connection) error {
	if old.DeletedAt == nil {
		return Errorf(ECONFLICT, "%s account %s is already paired", c.Provider, c.ExternalID)
	}
	c.ID, c.CreatedAt = old.ID, old.CreatedAt
	return nil
}

// Written records on c what a store's write of it stored at now: updated,
// live and with no teardown under way.
func (c *Connection) Written(now time.Time) {
	c.UpdatedAt, c.DeletedAt, c.Teardown = now, nil, ""
}

// Paired records on c what PairConnection stored at now: active, with no
// token yet, updated, live and with no teardown under way.
func (c *Connection) Paired(now time.Time) {
	c.Status, c.TokenExpiresAt = ConnectionActive, time.Time{}
	c.Written(now)
}

// MergeMetadata returns m with each key of kv set, and those whose value is
// "" deleted (SetConnectionMetadata). It changes m in place; a nil m gives a
// new map.
func MergeMetadata(m, kv map[string]string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	for k, v := range kv {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}
