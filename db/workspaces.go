package db

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// ErrWorkspaceExists is returned when a slug is taken.
var ErrWorkspaceExists = errors.New("workspace already exists")

// ErrInvalidSlug is returned for a slug the schema would refuse.
var ErrInvalidSlug = errors.New("invalid workspace slug: use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit")

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// WorkspaceStore creates and finds workspaces.
type WorkspaceStore struct{ db bun.IDB }

// NewWorkspaceStore returns a workspace store over db.
func NewWorkspaceStore(db bun.IDB) *WorkspaceStore { return &WorkspaceStore{db: db} }

// Create makes a workspace; name defaults to the slug.
func (s *WorkspaceStore) Create(ctx context.Context, slug, name string) (*model.Workspace, error) {
	if !slugPattern.MatchString(slug) {
		return nil, ErrInvalidSlug
	}
	if name == "" {
		name = slug
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("workspace id: %w", err)
	}
	w := &model.Workspace{ID: id, Slug: slug, Name: name}
	if _, err := s.db.NewInsert().Model(w).Returning("created_at").Exec(ctx); err != nil {
		if IsUniqueViolation(err) {
			return nil, fmt.Errorf("%w: %s", ErrWorkspaceExists, slug)
		}
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	return w, nil
}

// BySlug finds a workspace by slug.
func (s *WorkspaceStore) BySlug(ctx context.Context, slug string) (*model.Workspace, error) {
	w := new(model.Workspace)
	if err := s.db.NewSelect().Model(w).Where("slug = ?", slug).Scan(ctx); err != nil {
		return nil, fmt.Errorf("workspace %q: %w", slug, noRows(err))
	}
	return w, nil
}
