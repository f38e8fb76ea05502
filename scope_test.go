package relay_test

import (
	"testing"

	"github.com/relayhq/relay"
)

func TestOrgSees(t *testing.T) {
	if !relay.OrgSees("", "org_a") {
		t.Error("an admin read does not see an org's row")
	}
	if !relay.OrgSees("org_a", "org_a") {
		t.Error("an org does not see its own row")
	}
	if relay.OrgSees("org_b", "org_a") {
		t.Error("an org sees another org's row")
	}
}
