// Package reqctx carries per-request values (request id, authenticated principal)
// through a context, for every surface, and puts the request id on log lines.
package reqctx

import (
	"context"
	"log/slog"

	"github.com/loggraph/loggraph/model"
)

type key int

const (
	requestIDKey key = iota
	principalKey
)

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithPrincipal returns ctx carrying the authenticated principal.
func WithPrincipal(ctx context.Context, p *model.Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// Principal returns the authenticated principal of ctx, or nil.
func Principal(ctx context.Context) *model.Principal {
	p, _ := ctx.Value(principalKey).(*model.Principal)
	return p
}

// requestIDAttr is the key of the request id on log lines.
const requestIDAttr = "request_id"

// Logger returns l with a handler that adds its context's request id to every line
// logged with a context (InfoContext, ErrorContext, ...) as request_id, unless the
// line already has one; l itself when it already does so.
func Logger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(logHandler); ok {
		return l
	}
	return slog.New(logHandler{l.Handler()})
}

// logHandler is Logger's handler.
type logHandler struct{ slog.Handler }

// Handle adds the request id of ctx, if any and if r has none.
func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == requestIDAttr
			return !has
		})
		if !has {
			r = r.Clone()
			r.AddAttrs(slog.String(requestIDAttr, id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the request id on the derived handler's lines.
func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the request id on the derived handler's lines (inside the group).
func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
