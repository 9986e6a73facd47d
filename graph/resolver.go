// Package graph is the GraphQL surface: gqlgen's resolvers (thin), the server setup,
// the error presenter and authentication.
package graph

//go:generate go tool gqlgen generate

import (
	"log/slog"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// Resolver is the root resolver; it holds the dependencies every resolver uses.
type Resolver struct {
	Ingest       *db.IngestStore
	Tokens       *db.TokenStore
	IngestLimits model.IngestLimits
	Log          *slog.Logger
	// OnIngest is told of every stored batch (metrics).
	OnIngest func(kind model.LogKind, res db.IngestResult)
}
