package model

import (
	"io"
	"strconv"
	"strings"
)

// Role is what an API token may do.
type Role string

// Token roles. admin includes read and ingest.
const (
	RoleRead   Role = "read"
	RoleIngest Role = "ingest"
	RoleAdmin  Role = "admin"
)

// ParseRole reads a role name (case-insensitive).
func ParseRole(s string) (Role, bool) {
	switch r := Role(strings.ToLower(s)); r {
	case RoleRead, RoleIngest, RoleAdmin:
		return r, true
	}
	return "", false
}

// CanRead reports whether the role may query logs.
func (r Role) CanRead() bool { return r == RoleRead || r == RoleAdmin }

// CanIngest reports whether the role may write logs.
func (r Role) CanIngest() bool { return r == RoleIngest || r == RoleAdmin }

// CanAdmin reports whether the role may manage tokens.
func (r Role) CanAdmin() bool { return r == RoleAdmin }

// UnmarshalGQL implements graphql.Unmarshaler (GraphQL spells roles in upper case).
func (r *Role) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return InputErrorf("Role must be a string")
	}
	role, ok := ParseRole(s)
	if !ok || strings.ToUpper(s) != s {
		return InputErrorf("%q is not a valid Role", s)
	}
	*r = role
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (r Role) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(strings.ToUpper(string(r))))
}
