package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/loggraph/loggraph/internal/auth"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// v1Error is the error envelope of the /v1 routes.
type v1Error struct {
	Error     string            `json:"error"`
	Code      string            `json:"code"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    []model.LineError `json:"errors,omitempty"`
	BadLines  int               `json:"bad_lines,omitempty"`
}

// compactJSON encodes v as the shims' vendors write JSON: compact, without HTML
// escaping (<, > and & come back as they were ingested), without a trailing newline.
func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeBody sends a complete body with its type and length.
func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeV1Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loggraph"`)
	}
	writeJSON(w, status, v1Error{Error: msg, Code: code, RequestID: reqctx.RequestID(r.Context())})
}

// authV1 authenticates `Authorization: Bearer <token>`, counts the request against
// the workspace's requests-per-second limit and checks the role; on failure it has
// written the 401/429/403 and returns nil.
func authV1(d Deps, w http.ResponseWriter, r *http.Request, allowed func(model.Role) bool, what string) *model.Principal {
	p, f := d.authenticate(r, allowed, what)
	if f != nil {
		writeV1Failure(w, r, f)
		return nil
	}
	return p
}

// authenticate is authV1 without the answer: the failure is for the caller's
// surface to write (a 401 also needs `WWW-Authenticate`).
func (d Deps) authenticate(r *http.Request, allowed func(model.Role) bool, what string) (*model.Principal, *failure) {
	unauthenticated := func(msg string) (*model.Principal, *failure) {
		return nil, &failure{status: http.StatusUnauthorized, code: "unauthenticated", message: msg}
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return unauthenticated("an API token is required: send `Authorization: Bearer <token>`")
	}
	tok, ok := auth.BearerToken(h)
	if !ok {
		return unauthenticated("the Authorization header must be `Bearer <token>`")
	}
	p, err := d.Tokens.Authenticate(r.Context(), tok)
	switch {
	case auth.Rejected(err):
		return unauthenticated(err.Error())
	case err != nil:
		if ref := d.refusal(r.Context(), "authenticate", err); ref != nil {
			return nil, refusedBy(ref)
		}
		d.Log.ErrorContext(r.Context(), "authenticate", "err", err)
		return nil, &failure{status: http.StatusInternalServerError, code: "internal", message: "internal error"}
	}
	// Every authenticated request counts, a forbidden one too: a token cannot flood
	// a route its role may not use.
	if ref := d.Limiter.AdmitRequest(p.Workspace); ref != nil {
		return nil, refusedBy(ref)
	}
	if !allowed(p.Role) {
		return nil, &failure{status: http.StatusForbidden, code: "forbidden", message: "this token's role (" + string(p.Role) + ") may not " + what}
	}
	return p, nil
}

// authV1Read is authV1 for the read routes (/api-logs, exports): it also takes one of
// the workspace's read slots for the rest of the request, or answers the refusal.
func authV1Read(d Deps, w http.ResponseWriter, r *http.Request) *model.Principal {
	p := authV1(d, w, r, model.Role.CanRead, "read logs")
	if p == nil {
		return nil
	}
	if ref := d.readSlot(r, p); ref != nil {
		writeV1Refusal(w, r, ref)
		return nil
	}
	return p
}

// wholeSecondUTC formats t as YYYY-MM-DDTHH:MM:SSZ in UTC, the precision the 000 and
// 002 seeds document: the fraction of a second is cut off, never rounded up.
func wholeSecondUTC(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}
