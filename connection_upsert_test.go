package relay_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/relayhq/relay"
)

func isCode(err error, code string) bool {
	var e *relay.Error
	return errors.As(err, &e) && e.Code == code
}

func TestConnectionRevive(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	expires := created.Add(time.Hour)
	deleted := created.Add(2 * time.Hour)
	old := &relay.Connection{ID: "con_1", OrgID: "org_a", Provider: "github", ExternalID: "42",
		CreatedAt: created, TokenExpiresAt: expires}

	t.Run("live of another org", func(t *testing.T) {
		c := &relay.Connection{OrgID: "org_b", Provider: "github", ExternalID: "42"}
		if err := c.Revive(old); !isCode(err, relay.ECONFLICT) {
			t.Fatalf("err = %v, want ECONFLICT", err)
		}
		if c.ID != "" {
			t.Fatalf("a refused upsert took the id %q", c.ID)
		}
	})
	t.Run("live of the same org", func(t *testing.T) {
		c := &relay.Connection{OrgID: "org_a", Provider: "github", ExternalID: "42"}
		if err := c.Revive(old); err != nil {
			t.Fatal(err)
		}
		if c.ID != "con_1" || !c.CreatedAt.Equal(created) || !c.TokenExpiresAt.Equal(expires) {
			t.Fatalf("got id %q created %v expires %v; want old's", c.ID, c.CreatedAt, c.TokenExpiresAt)
		}
	})
	t.Run("deleted of another org", func(t *testing.T) {
		gone := *old
		gone.DeletedAt = &deleted
		c := &relay.Connection{OrgID: "org_b", Provider: "github", ExternalID: "42"}
		if err := c.Revive(&gone); err != nil {
			t.Fatal(err)
		}
		if c.ID != "con_1" {
			t.Fatalf("id %q, want con_1 revived", c.ID)
		}
	})
}

func TestConnectionRevivePaired(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	deleted := created.Add(time.Hour)
	old := &relay.Connection{ID: "con_1", OrgID: "org_a", Provider: "linear", ExternalID: "ws", CreatedAt: created}

	same := &relay.Connection{OrgID: "org_a", Provider: "linear", ExternalID: "ws"}
	if err := same.RevivePaired(old); !isCode(err, relay.ECONFLICT) {
		t.Fatalf("pairing over a live connection of the same org: err = %v, want ECONFLICT", err)
	}
	gone := *old
	gone.DeletedAt = &deleted
	c := &relay.Connection{OrgID: "org_b", Provider: "linear", ExternalID: "ws", TokenExpiresAt: deleted}
	if err := c.RevivePaired(&gone); err != nil {
		t.Fatal(err)
	}
	now := deleted.Add(time.Minute)
	c.Teardown = "webhooks"
	c.Paired(now)
	if c.ID != "con_1" || !c.CreatedAt.Equal(created) || c.Status != relay.ConnectionActive ||
		!c.TokenExpiresAt.IsZero() || !c.UpdatedAt.Equal(now) || c.DeletedAt != nil || c.Teardown != "" {
		t.Fatalf("paired connection = %+v", c)
	}
}

func TestMergeMetadata(t *testing.T) {
	got := relay.MergeMetadata(map[string]string{"a": "1", "b": "2"}, map[string]string{"b": "", "c": "3"})
	if want := map[string]string{"a": "1", "c": "3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := relay.MergeMetadata(nil, map[string]string{"a": "1", "z": ""}); !reflect.DeepEqual(got, map[string]string{"a": "1"}) {
		t.Fatalf("merge into nil = %v", got)
	}
}
