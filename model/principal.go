package model

import "github.com/google/uuid"

// Principal is who a request acts as: one token of one workspace.
type Principal struct {
	Workspace Workspace
	TokenID   uuid.UUID
	Role      Role
}
