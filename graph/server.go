package graph

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph/generated"
	"github.com/loggraph/loggraph/internal/reqctx"
)

// Config is what the GraphQL endpoint needs.
type Config struct {
	Resolver *Resolver
	Log      *slog.Logger
	// MaxBodyBytes bounds a request body (default 8 MiB; ingest mutations carry up to 1000 logs).
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes bounds a GraphQL request body.
const DefaultMaxBodyBytes = 8 << 20

// NewHandler returns the /graphql endpoint: POST and GET (queries only) transports,
// introspection, the error presenter and panic recovery, behind token
// authentication.
func NewHandler(cfg Config) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: cfg.Resolver}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	srv.SetErrorPresenter(presentError(cfg.Log))
	srv.SetRecoverFunc(recoverPanic(cfg.Log))
	return authenticate(cfg.Resolver.Tokens, cfg.Log, http.MaxBytesHandler(srv, cfg.MaxBodyBytes))
}

// PlaygroundHandler serves GraphiQL pointed at /graphql.
func PlaygroundHandler() http.Handler {
	return playground.Handler("loggraph playground", "/graphql")
}

// authenticate resolves `Authorization: Bearer` to a principal. A request without a
// token goes on anonymously (introspection and __typename work; data fields answer
// UNAUTHENTICATED); a bad or revoked token is refused with 401.
func authenticate(tokens *db.TokenStore, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			writeGraphQLError(w, r, http.StatusUnauthorized, CodeUnauthenticated, "the Authorization header must be `Bearer <token>`")
			return
		}
		p, err := tokens.Authenticate(r.Context(), strings.TrimSpace(tok))
		switch {
		case errors.Is(err, db.ErrInvalidToken), errors.Is(err, db.ErrRevokedToken):
			writeGraphQLError(w, r, http.StatusUnauthorized, CodeUnauthenticated, err.Error())
			return
		case err != nil:
			log.ErrorContext(r.Context(), "authenticate", "err", err, "request_id", reqctx.RequestID(r.Context()))
			writeGraphQLError(w, r, http.StatusInternalServerError, CodeInternal, "internal error")
			return
		}
		next.ServeHTTP(w, r.WithContext(reqctx.WithPrincipal(r.Context(), p)))
	})
}

func writeGraphQLError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	ext := map[string]any{"code": code}
	if id := reqctx.RequestID(r.Context()); id != "" {
		ext["requestId"] = id
	}
	ct := "application/json"
	if strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json") {
		ct = "application/graphql-response+json"
	}
	w.Header().Set("Content-Type", ct)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loggraph"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": ext}}})
}
