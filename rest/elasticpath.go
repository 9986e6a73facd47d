package rest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/auth"
	"github.com/loggraph/loggraph/model"
)

// The Elastic Path shim (seed 001, rest-shims.md section 001): integration logs in
// the Integrations API's JSON:API-like shape, paged by page[limit] and page[offset].

// Paging of the Elastic Path shim.
const (
	// EPDefaultPageLimit is page[limit] when absent: ours (the contract's 100), not
	// the vendor's store page_length setting (25 by default).
	EPDefaultPageLimit = 100
	// EPMaxPageLimit is the largest page; larger page[limit] values are clamped to it
	// (the vendor documents the maximum; clamping rather than refusing is ours).
	EPMaxPageLimit = 100
)

// Wire values of the Elastic Path shim.
const (
	// EPLogType is every log's "type" (the seed's enum [integration]).
	EPLogType = "integration"
	// EPIntegrationType is relationships.integration.data.type (as in the seed).
	EPIntegrationType = "integration"
	// EPJobType is relationships.job.data.type and each /jobs item's type: the
	// contract's choice (the older vendor docs), where the seed example says "job".
	EPJobType = "integration-job"
)

// Error bodies of the Elastic Path shim: 401, 403, 404 and 500 are the vendor's
// documented bodies; the 400 details are ours (the vendor documents only the title).
const (
	// EPDetailLimit is the 400 detail for a page[limit] that is not an integer of at
	// least 1; ours (zero is refused because a page of no rows has no page number).
	EPDetailLimit = "page[limit] must be a positive integer"
	// EPDetailOffset is the 400 detail for a page[offset] that is not an integer of at
	// least 0; ours.
	EPDetailOffset = "page[offset] must be a non-negative integer"
)

// epRef is a JSON:API resource identifier, {id, type}.
type epRef struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// epRelationship is {data}. A log stored without a job still has one: its own
// one-delivery job (see epJobOf), so data is never null.
type epRelationship struct {
	Data *epRef `json:"data"`
}

type epRelationships struct {
	Integration epRelationship `json:"integration"`
	Job         epRelationship `json:"job"`
}

// epLog is one integration log in the seed's key order. body and error_detail are
// nullable in our store; the vendor types them string (not nullable), so an absent
// value is sent as "" and a client's string handling never meets a null.
type epLog struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Succeeded     bool            `json:"succeeded"`
	Attempt       int             `json:"attempt"`
	Body          string          `json:"body"`
	StatusCode    int             `json:"status_code"`
	ErrorDetail   string          `json:"error_detail"`
	Relationships epRelationships `json:"relationships"`
}

// epMeta is the seed's flat meta: total is the page count, not the record count.
type epMeta struct {
	Limit   int `json:"limit"`
	Offset  int `json:"offset"`
	Current int `json:"current"`
	Total   int `json:"total"`
}

type epResults struct {
	Total int `json:"total"`
}

type epLogList struct {
	Data    []epLog   `json:"data"`
	Meta    epMeta    `json:"meta"`
	Results epResults `json:"results"`
}

type epJobList struct {
	Data []epRef `json:"data"`
}

// The vendor's error bodies do not share one key order: auth errors and the
// documented 500 put status first, not-found and validation errors put title first.
type epStatusFirstError struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

type epTitleFirstError struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

type epErrors[E any] struct {
	Errors []E `json:"errors"`
}

var (
	epUnauthorized = epErrors[epStatusFirstError]{[]epStatusFirstError{{Status: http.StatusUnauthorized, Title: "Unable to validate access token"}}}
	epForbidden    = epErrors[epStatusFirstError]{[]epStatusFirstError{{Status: http.StatusForbidden, Title: "Forbidden"}}}
	epInternal     = epErrors[epStatusFirstError]{[]epStatusFirstError{{Status: http.StatusInternalServerError, Title: "Internal server error", Detail: "An internal error has occurred."}}}
	epNotFound     = epErrors[epTitleFirstError]{[]epTitleFirstError{{Title: "Not Found", Status: http.StatusNotFound, Detail: "The resource could not be found"}}}
)

func epValidation(detail string) epErrors[epTitleFirstError] {
	return epErrors[epTitleFirstError]{[]epTitleFirstError{{Title: "Validation Error", Status: http.StatusBadRequest, Detail: detail}}}
}

// writeEP writes v as the compact JSON the vendor documents: no trailing newline and
// no HTML escaping, so stored bodies come back as they were ingested.
func writeEP(w http.ResponseWriter, status int, v any) {
	body, err := compactJSON(v)
	if err != nil {
		// Only a programming error can get here: every value is a fixed struct.
		http.Error(w, "", http.StatusInternalServerError)
		return
	}
	writeBody(w, status, "application/json", body)
}

type elasticPath struct {
	d        Deps
	logs     *db.LogStore
	entities *db.EntityStore
}

// registerElasticPath serves the four documented routes, each with and without /v2.
func registerElasticPath(handle func(pattern string, h http.Handler), d Deps) {
	ep := &elasticPath{d: d, logs: db.NewLogStore(d.DB.Bun), entities: db.NewEntityStore(d.DB.Bun)}
	// The current OpenAPI paths have no prefix; the older docs and legacy clients use
	// /v2. The literal "logs" segment outranks {integration_uuid}, and every pattern
	// here outranks another shim's "GET /v2/{rest...}".
	for _, prefix := range []string{"", "/v2"} {
		handle("GET "+prefix+"/integrations/logs", http.HandlerFunc(ep.storeLogs))
		handle("GET "+prefix+"/integrations/{integration_uuid}/logs", http.HandlerFunc(ep.integrationLogs))
		handle("GET "+prefix+"/integrations/{integration_uuid}/jobs", http.HandlerFunc(ep.integrationJobs))
		handle("GET "+prefix+"/integrations/{integration_uuid}/jobs/{job_uuid}/logs", http.HandlerFunc(ep.jobLogs))
	}
}

// auth reads `Authorization: Bearer <token>` (scheme case-insensitive, RFC 9110);
// on refusal it has answered and returns nil.
func (ep *elasticPath) auth(w http.ResponseWriter, r *http.Request) *model.Principal {
	token, _ := auth.BearerToken(strings.TrimSpace(r.Header.Get("Authorization")))
	p, refusal, capacity := ReadPrincipal(ep.d, r, token)
	switch refusal {
	case Allowed:
		return p
	case OverCapacity:
		writeEPRefusal(w, capacity)
	case Forbidden:
		writeEP(w, http.StatusForbidden, epForbidden)
	case Unavailable:
		writeEP(w, http.StatusInternalServerError, epInternal)
	default:
		writeEP(w, http.StatusUnauthorized, epUnauthorized)
	}
	return nil
}

// epPage reads page[limit] and page[offset]; on a bad value it has answered 400 and
// returns false. A parameter given with an empty value is not an integer.
func epPage(w http.ResponseWriter, r *http.Request) (model.Page, bool) {
	q := r.URL.Query()
	p := model.Page{Limit: EPDefaultPageLimit}
	if q.Has("page[limit]") {
		n, err := strconv.ParseInt(q.Get("page[limit]"), 10, 64)
		if errors.Is(err, strconv.ErrRange) && n > 0 {
			// Too large for int64 is still "above 100": clamped like any other.
			err = nil
		}
		if err != nil || n < 1 {
			writeEP(w, http.StatusBadRequest, epValidation(EPDetailLimit))
			return p, false
		}
		p.Limit = int(min(n, EPMaxPageLimit))
	}
	if q.Has("page[offset]") {
		// 63 bits, so that offset/limit + 1 cannot overflow; a larger offset is
		// refused with the same detail.
		n, err := strconv.ParseInt(q.Get("page[offset]"), 10, 63)
		if err != nil || n < 0 {
			writeEP(w, http.StatusBadRequest, epValidation(EPDetailOffset))
			return p, false
		}
		p.Offset = int(n)
	}
	return p, true
}

// epPathUUID reads a path id; only the canonical 36-character form is an id (anything
// else answers 404 like an unknown id, never a validation error).
func epPathUUID(r *http.Request, name string) (uuid.UUID, bool) {
	s := r.PathValue(name)
	if len(s) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

// fail answers a store error: ErrNotFound is the vendor's 404, anything else is
// logged with the request id and answers the documented 500.
func (ep *elasticPath) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, db.ErrNotFound) {
		writeEP(w, http.StatusNotFound, epNotFound)
		return
	}
	if msg, isInput := inputMessage(err); isInput {
		writeEP(w, http.StatusBadRequest, epValidation(msg))
		return
	}
	if ref := ep.d.refusal(r.Context(), "elastic path: "+what, err); ref != nil {
		writeEPRefusal(w, ref)
		return
	}
	ep.d.Log.ErrorContext(r.Context(), "elastic path: "+what, "err", err)
	writeEP(w, http.StatusInternalServerError, epInternal)
}

// storeLogs serves GET /integrations/logs: every integration log of the workspace.
func (ep *elasticPath) storeLogs(w http.ResponseWriter, r *http.Request) {
	p := ep.auth(w, r)
	if p == nil {
		return
	}
	pg, ok := epPage(w, r)
	if !ok {
		return
	}
	ep.list(w, r, p, &model.IntegrationLogFilter{}, pg)
}

// integrationLogs serves GET /integrations/{integration_uuid}/logs.
func (ep *elasticPath) integrationLogs(w http.ResponseWriter, r *http.Request) {
	p := ep.auth(w, r)
	if p == nil {
		return
	}
	pg, ok := epPage(w, r)
	if !ok {
		return
	}
	integration, ok := epPathUUID(r, "integration_uuid")
	if !ok {
		writeEP(w, http.StatusNotFound, epNotFound)
		return
	}
	// An unknown integration is a 404, not an empty page.
	if err := ep.entities.IntegrationExists(r.Context(), p.Workspace.ID, integration); err != nil {
		ep.fail(w, r, "integration", err)
		return
	}
	ep.list(w, r, p, &model.IntegrationLogFilter{IntegrationIDs: []string{integration.String()}}, pg)
}

// jobLogs serves GET /integrations/{integration_uuid}/jobs/{job_uuid}/logs.
func (ep *elasticPath) jobLogs(w http.ResponseWriter, r *http.Request) {
	p := ep.auth(w, r)
	if p == nil {
		return
	}
	pg, ok := epPage(w, r)
	if !ok {
		return
	}
	integration, ok1 := epPathUUID(r, "integration_uuid")
	job, ok2 := epPathUUID(r, "job_uuid")
	if !ok1 || !ok2 {
		writeEP(w, http.StatusNotFound, epNotFound)
		return
	}
	ctx, ws := r.Context(), p.Workspace.ID
	err := ep.entities.JobOfIntegrationExists(ctx, ws, integration, job)
	if errors.Is(err, db.ErrNotFound) {
		// Not a stored job: maybe a delivery stored without one, its own job.
		l, err := ep.logs.OneDeliveryJob(ctx, ws, integration, job)
		if err != nil {
			ep.fail(w, r, "job", err)
			return
		}
		var page []*model.IntegrationLog
		if pg.Offset == 0 {
			page = []*model.IntegrationLog{l}
		}
		writeEP(w, http.StatusOK, epPageOf(page, 1, pg))
		return
	}
	if err != nil {
		ep.fail(w, r, "job", err)
		return
	}
	f := &model.IntegrationLogFilter{IntegrationIDs: []string{integration.String()}, JobIDs: []string{job.String()}}
	ep.list(w, r, p, f, pg)
}

// integrationJobs serves GET /integrations/{integration_uuid}/jobs: all jobs, newest
// first, with no paging and no meta (as documented).
func (ep *elasticPath) integrationJobs(w http.ResponseWriter, r *http.Request) {
	p := ep.auth(w, r)
	if p == nil {
		return
	}
	integration, ok := epPathUUID(r, "integration_uuid")
	if !ok {
		writeEP(w, http.StatusNotFound, epNotFound)
		return
	}
	ctx, ws := r.Context(), p.Workspace.ID
	if err := ep.entities.IntegrationExists(ctx, ws, integration); err != nil {
		ep.fail(w, r, "integration", err)
		return
	}
	jobs, err := ep.entities.JobsOfIntegration(ctx, ws, integration)
	if err != nil {
		ep.fail(w, r, "jobs", err)
		return
	}
	out := epJobList{Data: make([]epRef, 0, len(jobs))}
	for _, j := range jobs {
		out.Data = append(out.Data, epRef{ID: j.String(), Type: EPJobType})
	}
	writeEP(w, http.StatusOK, out)
}

// list answers one page of the logs f selects.
func (ep *elasticPath) list(w http.ResponseWriter, r *http.Request, p *model.Principal, f *model.IntegrationLogFilter, pg model.Page) {
	logs, total, err := ep.logs.IntegrationLogPage(r.Context(), p.Workspace.ID, f, pg)
	if err != nil {
		ep.fail(w, r, "list logs", err)
		return
	}
	writeEP(w, http.StatusOK, epPageOf(logs, total, pg))
}

// epPageOf is one page of logs out of total with the seed's meta arithmetic:
// current = offset/limit + 1, total = ceil(results.total/limit) (0 for no rows).
func epPageOf(logs []*model.IntegrationLog, total int, pg model.Page) epLogList {
	out := epLogList{
		Data:    make([]epLog, 0, len(logs)),
		Meta:    epMeta{Limit: pg.Limit, Offset: pg.Offset, Current: pg.Offset/pg.Limit + 1, Total: (total + pg.Limit - 1) / pg.Limit},
		Results: epResults{Total: total},
	}
	for _, l := range logs {
		out.Data = append(out.Data, epLog{
			ID: l.ID.String(), Type: EPLogType, Succeeded: l.Succeeded, Attempt: l.Attempt,
			Body: deref(l.Body), StatusCode: l.StatusCode, ErrorDetail: deref(l.ErrorDetail),
			Relationships: epRelationships{
				Integration: epRelationship{Data: &epRef{ID: l.IntegrationID.String(), Type: EPIntegrationType}},
				Job:         epRelationship{Data: &epRef{ID: epJobOf(l).String(), Type: EPJobType}},
			},
		})
	}
	return out
}

// epJobOf is the job a log is listed under: its stored job, or, for a delivery
// stored without one, the delivery itself as a one-delivery job (same id). Elastic
// Path has no log outside a job (a job is one event's delivery with its attempts), so
// clients read relationships.job.data.id unguarded; ours is always there and leads to
// /jobs/{job_uuid}/logs like any job.
func epJobOf(l *model.IntegrationLog) uuid.UUID {
	if l.JobID != nil {
		return *l.JobID
	}
	return l.ID
}

// deref is a nullable text as the vendor's non-nullable string: "" when absent.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
