package rest

import (
	"net/http"

	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/reqctx"
)

// v1Refusal is the /v1 envelope of a capacity refusal: the usual error and code,
// plus the limit it names and the seconds to wait (also in Retry-After).
type v1Refusal struct {
	Error      string      `json:"error"`
	Code       string      `json:"code"`
	Limit      guard.Limit `json:"limit"`
	RetryAfter int         `json:"retry_after"`
	RequestID  string      `json:"request_id,omitempty"`
}

// refusalCode is the /v1 code of a refusal's status.
func refusalCode(ref *guard.Refusal) string {
	if ref.Status == http.StatusTooManyRequests {
		return "rate_limited"
	}
	return "unavailable"
}

// writeV1Refusal answers a capacity refusal on the /v1 routes (ingest, exports,
// /api-logs): 429 or 503 with Retry-After.
func writeV1Refusal(w http.ResponseWriter, r *http.Request, ref *guard.Refusal) {
	ref.SetHeader(w.Header())
	writeJSON(w, ref.Status, v1Refusal{
		Error: ref.Message, Code: refusalCode(ref), Limit: ref.Limit,
		RetryAfter: ref.RetryAfterSeconds(), RequestID: reqctx.RequestID(r.Context()),
	})
}
