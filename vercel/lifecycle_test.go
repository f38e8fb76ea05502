package vercel_test

import (
	"context"
	"slices"
	"testing"

	"github.com/relayhq/relay"
)

// ConfirmLifecycle reads the configuration: there, the removal is not
// confirmed; gone (404, or its token refused with 403), it is. Project
// changes are Vercel's project list.
func TestConfirmLifecycle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	g, err := f.c.Exchange(ctx, f.install(t, "cfg-team"), callback, "")
	if err != nil {
		t.Fatal(err)
	}
	claim := &relay.LifecycleChange{AccountID: "team_1", Status: relay.ConnectionRevoked, Reason: "claimed"}
	ch, err := f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim)
	if err != nil || ch.Status != "" || ch.Resources != nil {
		t.Fatalf("still installed: %+v %v, want no change", ch, err)
	}
	if f.sim.Calls("get_configuration") != 1 {
		t.Fatalf("configuration read %d times", f.sim.Calls("get_configuration"))
	}
	projects := &relay.LifecycleChange{AccountID: "team_1", AddResources: []*relay.Resource{{ExternalID: "prj_forged"}}}
	ch, err = f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, projects)
	if err != nil || ch.Status != "" || !slices.Equal(ids(ch.Resources), []string{"prj_1", "prj_2", "prj_3", "prj_4", "prj_5"}) {
		t.Fatalf("projects: %+v %v", ch, err)
	}
	f.sim.FailNext("get_configuration", 502, 1)
	if _, err := f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("Vercel down: %v, want EUNAVAILABLE", err)
	}
	f.sim.RemoveConfiguration("cfg-team")
	ch, err = f.c.ConfirmLifecycle(ctx, g.Connection, g.Token, claim)
	if err != nil || ch.Status != relay.ConnectionRevoked || ch.AccountID != "team_1" {
		t.Fatalf("removed: %+v %v", ch, err)
	}
}
