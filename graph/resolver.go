// Package graph is the GraphQL surface: gqlgen's resolvers (thin), the server setup,
// the error presenter and authentication.
package graph

//go:generate go tool gqlgen generate
//go:generate go run ./serial/rewrite generated

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/loggraph/loggraph/graph/loader"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/reqctx"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// Resolver is the root resolver; it holds the dependencies every resolver uses.
type Resolver struct {
	Ingest       *db.IngestStore
	Tokens       *db.TokenStore
	LogStore     *db.LogStore
	EntityStore  *db.EntityStore
	IngestLimits model.IngestLimits
	// OnIngest is told of every stored batch (metrics).
	OnIngest func(kind model.LogKind, res db.IngestResult)
	// Tail fans committed batches out to logTail subscriptions (one per server).
	Tail *db.TailHub
	// Limiter enforces the per-workspace ingest rates on the ingest mutations; nil: none.
	Limiter *limits.Limiter
	// Lifecycle reads retention and deletes logs (deleteLogs).
	Lifecycle *db.Lifecycle
}

// withLoaders gives each response (each operation, each subscription event) fresh
// loaders, so batches never mix operations and caches never outlive a response.
func (r *Resolver) withLoaders(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if p := reqctx.Principal(ctx); p != nil {
		ctx = loader.With(ctx, loader.New(p.Workspace.ID, r.LogStore, r.EntityStore))
	}
	return next(ctx)
}
