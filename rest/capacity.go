package rest

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/model"
)

// Capacity refusals (429/503 with Retry-After) on the REST surfaces. Each surface has
// one writer taking a *guard.Refusal, whoever refused: the database (db.AsRefusal:
// outage, full pool, statement timeout), a workspace's read concurrency (ReadSlots),
// or a rate limit or quota. A handler that gets a refusal answers it with its
// surface's writer:
//
//   - /v1 ingest, exports, /api-logs: writeV1Refusal (refusal.go)
//   - Document360 (000): writeD360Refusal
//   - Elastic Path (001): writeEPRefusal
//   - generic /logs (002): writeGenericRefusal
//   - Akinon (004): writeAkinonRefusal
//
// Store errors go through Deps.refusal first, which logs the cause and returns the
// refusal to answer, or nil for an error that is not about capacity.

// refusal classifies a store error as a capacity refusal (logged with the request id
// and the cause, which never reaches the caller), or returns nil.
func (d Deps) refusal(ctx context.Context, what string, err error) *guard.Refusal {
	if d.DB == nil {
		return nil
	}
	ref := d.DB.Refusal(ctx, err)
	if ref != nil {
		d.Log.WarnContext(ctx, what+": refused", "limit", string(ref.Limit), "status", ref.Status, "err", err)
	}
	return ref
}

// readSlot takes one of the principal's workspace's read slots for the rest of the
// request (ReadSlots.AcquireForRequest); on refusal it returns the refusal to answer.
func (d Deps) readSlot(r *http.Request, p *model.Principal) *guard.Refusal {
	if err := d.ReadSlots.AcquireForRequest(r, p.Workspace.ID); err != nil {
		if ref := guard.As(err); ref != nil {
			d.Log.WarnContext(r.Context(), "read refused", "limit", string(ref.Limit), "workspace", p.Workspace.ID)
			return ref
		}
		// The client went away while waiting: answer something, nobody reads it.
		return &guard.Refusal{Status: http.StatusServiceUnavailable, Limit: guard.LimitConcurrentQueries,
			Message: "the request was cancelled while waiting", RetryAfter: time.Second}
	}
	return nil
}

// writeD360Refusal answers a refusal in Document360's failure envelope, one BaseError
// whose description is the refusal's message (the vendor lists 429 and 503 without
// bodies).
func writeD360Refusal(w http.ResponseWriter, ref *guard.Refusal) {
	ref.SetHeader(w.Header())
	writeD360Error(w, ref.Status, ref.Message)
}

// writeEPRefusal answers a refusal in Elastic Path's error envelope, as its
// documented 429 ({"errors":[{"status":429,"title":...}]}) with the message as detail.
func writeEPRefusal(w http.ResponseWriter, ref *guard.Refusal) {
	ref.SetHeader(w.Header())
	writeEP(w, ref.Status, epErrors[epStatusFirstError]{[]epStatusFirstError{{
		Status: ref.Status, Title: http.StatusText(ref.Status), Detail: ref.Message}}})
}

// writeGenericRefusal answers a refusal in the generic API's {"status":"error","message":...}.
func writeGenericRefusal(w http.ResponseWriter, ref *guard.Refusal) {
	ref.SetHeader(w.Header())
	genericFail(w, ref.Status, ref.Message)
}

// writeAkinonRefusal answers a refusal as DRF does: a 429 is DRF's Throttled detail
// ("Request was throttled. Expected available in N seconds."), a 503 DRF's
// {"detail": ...} with the refusal's message.
func writeAkinonRefusal(w http.ResponseWriter, ref *guard.Refusal) {
	ref.SetHeader(w.Header())
	msg := ref.Message
	if ref.Status == http.StatusTooManyRequests {
		msg = fmt.Sprintf("Request was throttled. Expected available in %d seconds.", ref.RetryAfterSeconds())
	}
	akinonFail(w, ref.Status, msg)
}
