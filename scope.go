package relay

// OrgSees reports whether a read scoped to orgID may see a row owned by
// owner. The API scopes reads to the caller's org; "" is an admin read that
// sees every org. A store answers a row the scope does not see with
// ENOTFOUND, so that other orgs' ids are not revealed.
func OrgSees(orgID, owner string) bool {
	return orgID == "" || owner == orgID
}
