package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/auth"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// need returns the caller if its role passes allowed, else an UNAUTHENTICATED or
// FORBIDDEN error naming what was needed.
func need(ctx context.Context, allowed func(model.Role) bool, what string) (*model.Principal, error) {
	p := reqctx.Principal(ctx)
	if p == nil {
		return nil, errUnauthenticated()
	}
	if !allowed(p.Role) {
		return nil, userError(CodeForbidden, "this token's role (%s) may not %s", p.Role, what)
	}
	return p, nil
}

func anyRole(model.Role) bool { return true }

// Websocket close codes of the graphql-ws protocols (4400..4499 are the protocol's).
const (
	// WebsocketCloseUnauthorized closes a websocket whose connection_init carries no
	// valid token. graphql-transport-ws recommends 4403 for any refused init; we answer
	// 4401 as the HTTP surfaces answer 401 for a missing, bad or revoked token, and
	// keep 4403 for a role that may not do the thing.
	WebsocketCloseUnauthorized = 4401
	// WebsocketCloseForbidden closes a websocket whose token may not read: the only
	// subscription (logTail) reads, and queries and mutations go over HTTP.
	WebsocketCloseForbidden = 4403
	// WebsocketCloseInternal closes a websocket whose init failed on the server side.
	WebsocketCloseInternal = 4500
)

// authenticate resolves `Authorization: Bearer` to a principal. A request without a
// token goes on anonymously (introspection and __typename work; data fields answer
// UNAUTHENTICATED; a websocket authenticates in its connection_init); a bad or
// revoked token is refused with 401.
func authenticate(tokens *db.TokenStore, limiter *limits.Limiter, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		// The lookup's statements are counted only for a refusal's stats: the counter
		// does not reach the operation, whose stats count its own statements.
		ctx, counter := db.WithStatementCounter(r.Context())
		refuse := func(status int, code, msg string) {
			writeGraphQLError(w, r, status, code, msg, statsValue(time.Since(start), counter.Count()))
		}
		tok, ok := auth.BearerToken(h)
		if !ok {
			refuse(http.StatusUnauthorized, CodeUnauthenticated, "the Authorization header must be `Bearer <token>`")
			return
		}
		p, err := tokens.Authenticate(ctx, tok)
		switch {
		case auth.Rejected(err):
			refuse(http.StatusUnauthorized, CodeUnauthenticated, err.Error())
			return
		case err != nil:
			if ref := db.AsRefusal(r.Context(), err, 0); ref != nil {
				log.WarnContext(r.Context(), "authenticate: refused", "limit", string(ref.Limit), "err", err)
				writeGraphQLRefusal(w, r, ref, statsValue(time.Since(start), counter.Count()))
				return
			}
			log.ErrorContext(r.Context(), "authenticate", "err", err)
			refuse(http.StatusInternalServerError, CodeInternal, "internal error")
			return
		}
		// Every authenticated request counts against its workspace's rate, before any
		// parsing or execution.
		if ref := limiter.AdmitRequest(p.Workspace); ref != nil {
			writeGraphQLRefusal(w, r, ref, statsValue(time.Since(start), counter.Count()))
			return
		}
		next.ServeHTTP(w, r.WithContext(reqctx.WithPrincipal(r.Context(), p)))
	})
}

// writeGraphQLError answers a request refused before it reached the executor.
func writeGraphQLError(w http.ResponseWriter, r *http.Request, status int, code, msg string, stats map[string]any) {
	ext := map[string]any{"code": code}
	if id := reqctx.RequestID(r.Context()); id != "" {
		ext["requestId"] = id
	}
	mt, ok := responseMediaType(r.Header.Get("Accept"))
	if !ok {
		mt = mediaJSON
	}
	w.Header().Set("Content-Type", mt+"; charset=utf-8")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loggraph"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors":     []any{map[string]any{"message": msg, "extensions": ext}},
		"extensions": map[string]any{"stats": stats},
	})
}

// websocketInit authenticates a websocket from its connection_init payload:
// `{"Authorization": "Bearer <token>"}` or `{"authToken": "<token>"}`. A socket whose
// upgrade request carried a valid Authorization header (non-browser clients) may send
// an empty payload. A refused socket gets, on graphql-ws, a connection_error with the
// message and then the close; on graphql-transport-ws (which has no connection_error)
// the close alone, code 4401, the reason saying why. gqlgen sends both from the
// context returned with the error (WithWebsocketCloseCode, AppendCloseReason).
func websocketInit(tokens *db.TokenStore, log *slog.Logger) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		refuse := func(code int, msg string) (context.Context, *transport.InitPayload, error) {
			reason := msg
			switch code {
			case WebsocketCloseUnauthorized:
				reason = "Unauthorized: " + msg
			case WebsocketCloseForbidden:
				reason = "Forbidden: " + msg
			}
			ctx = transport.WithWebsocketCloseCode(ctx, code)
			ctx = transport.AppendCloseReason(ctx, closeReason(reason))
			return ctx, nil, errors.New(msg)
		}
		tok, present := "", false
		if h := payload.Authorization(); h != "" {
			t, ok := auth.BearerToken(h)
			if !ok {
				return refuse(WebsocketCloseUnauthorized, "the Authorization value must be `Bearer <token>`")
			}
			tok, present = t, true
		} else if _, ok := payload["authToken"]; ok {
			tok, present = strings.TrimSpace(payload.GetString("authToken")), true
		}
		forbidden := func(p *model.Principal) (context.Context, *transport.InitPayload, error) {
			return refuse(WebsocketCloseForbidden, fmt.Sprintf("this token's role (%s) may not read logs: subscriptions need a read or admin token", p.Role))
		}
		switch {
		case !present && reqctx.Principal(ctx) != nil:
			if p := reqctx.Principal(ctx); !p.Role.CanRead() {
				return forbidden(p)
			}
			return watchRevocation(ctx, reqctx.Principal(ctx)), nil, nil
		case !present || tok == "":
			return refuse(WebsocketCloseUnauthorized, "an API token is required in connection_init: {\"Authorization\": \"Bearer <token>\"} or {\"authToken\": \"<token>\"}")
		}
		p, err := tokens.Authenticate(ctx, tok)
		switch {
		case auth.Rejected(err):
			return refuse(WebsocketCloseUnauthorized, err.Error())
		case err != nil:
			log.ErrorContext(ctx, "websocket authenticate", "err", err)
			if ref := db.AsRefusal(ctx, err, 0); ref != nil {
				return refuse(WebsocketCloseInternal, ref.Message)
			}
			return refuse(WebsocketCloseInternal, "internal error")
		case !p.Role.CanRead():
			return forbidden(p)
		}
		return watchRevocation(reqctx.WithPrincipal(ctx, p), p), nil, nil
	}
}

// closeReason fits a websocket close reason into its 123 bytes (a longer one makes
// the close frame fail), without cutting a UTF-8 sequence.
func closeReason(s string) string {
	const limit = 123
	if len(s) <= limit {
		return s
	}
	cut := limit - len("...")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
