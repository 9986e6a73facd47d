package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/auth"
	"github.com/loggraph/loggraph/model"
)

// Seed 002 (a generic "API Logs" page): GET /logs with limit/offset paging. The
// messages below marked "seed" are the documented ones, byte for byte; every other
// choice is ours, since the page documents nothing more.
const (
	genericLogsPath = "/logs"

	// genericDefaultLimit is the seed's documented default page size.
	genericDefaultLimit = 50
	// genericMaxLimit is ours: the seed documents no maximum.
	genericMaxLimit = 1000

	// Seed: the 401 and 403 messages and the startDate message, verbatim.
	genericMsgUnauthenticated = "Authentication required. Please provide a valid API key or token."
	genericMsgForbidden       = "You do not have permission to access API logs."
	genericMsgBadDateFormat   = "Invalid date format for '%s'. Please use ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ)."

	// Ours: the seed only shows the date message; these follow its "Invalid ... for '<param>'." wording.
	genericMsgBadLimit     = "Invalid value for 'limit'. Please use an integer between 1 and 1000."
	genericMsgBadOffset    = "Invalid value for 'offset'. Please use an integer of 0 or more."
	genericMsgBadLevel     = "Invalid value for 'level'. Please use one of DEBUG, INFO, WARN, ERROR, FATAL."
	genericMsgDatesReverse = "Invalid date range: 'startDate' must not be after 'endDate'."
	// Ours: the seed documents no 405 or 500 body; both keep the seed's error envelope.
	genericMsgMethod   = "Method not allowed. Use GET."
	genericMsgInternal = "Internal server error."
	// genericAllow is ours: GET (and HEAD, which net/http answers from GET) is all the seed documents.
	genericAllow = "GET, HEAD"
)

// genericError is the seed's error envelope: {"status":"error","message":...}.
type genericError struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// genericEntry is one log in the seed's key order.
type genericEntry struct {
	Timestamp string          `json:"timestamp"`
	Level     string          `json:"level"`
	Service   string          `json:"service"`
	Message   string          `json:"message"`
	Details   json.RawMessage `json:"details"` // null when the log has none: the shape stays stable
}

// genericPagination is the seed's pagination object; NextOffset is null on the last page.
type genericPagination struct {
	Total      int  `json:"total"`
	Limit      int  `json:"limit"`
	Offset     int  `json:"offset"`
	NextOffset *int `json:"nextOffset"`
}

type genericData struct {
	Logs       []genericEntry    `json:"logs"`
	Pagination genericPagination `json:"pagination"`
}

// genericList is the 200 body.
type genericList struct {
	Status string      `json:"status"`
	Data   genericData `json:"data"`
}

func registerGenericLogs(handle func(pattern string, h http.Handler), d Deps) {
	h := &genericLogsHandler{d: d}
	handle("GET "+genericLogsPath, h)
	// Other methods get the seed's envelope rather than net/http's plain-text 405.
	handle(genericLogsPath, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", genericAllow)
		writeGenericJSON(w, http.StatusMethodNotAllowed, genericError{Status: "error", Message: genericMsgMethod})
	}))
}

type genericLogsHandler struct{ d Deps }

// genericQuery is a validated GET /logs request.
type genericQuery struct {
	filter        model.AppLogFilter
	limit, offset int
	empty         bool // the window holds no microsecond at all: answer without querying
}

func (h *genericLogsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, refusal, capacity := ReadPrincipal(h.d, r, genericToken(r))
	switch refusal {
	case OverCapacity:
		writeGenericRefusal(w, capacity)
		return
	case Unauthenticated:
		genericFail(w, http.StatusUnauthorized, genericMsgUnauthenticated)
		return
	case Forbidden:
		genericFail(w, http.StatusForbidden, genericMsgForbidden)
		return
	case Unavailable:
		genericFail(w, http.StatusInternalServerError, genericMsgInternal)
		return
	}
	q, msg := parseGenericQuery(r.URL.Query())
	if msg != "" {
		genericFail(w, http.StatusBadRequest, msg)
		return
	}
	body, err := h.list(r.Context(), p, q)
	if err != nil {
		if msg, isInput := inputMessage(err); isInput {
			genericFail(w, http.StatusBadRequest, msg)
			return
		}
		if ref := h.d.refusal(r.Context(), "generic logs", err); ref != nil {
			writeGenericRefusal(w, ref)
			return
		}
		h.d.Log.ErrorContext(r.Context(), "generic logs", "err", err)
		genericFail(w, http.StatusInternalServerError, genericMsgInternal)
		return
	}
	writeGenericJSON(w, http.StatusOK, body)
}

// list counts and reads one page in one read-only snapshot, so that total and logs
// agree even while rows are being ingested.
func (h *genericLogsHandler) list(ctx context.Context, p *model.Principal, q genericQuery) (*genericList, error) {
	out := &genericList{Status: "success", Data: genericData{
		Logs:       []genericEntry{},
		Pagination: genericPagination{Limit: q.limit, Offset: q.offset},
	}}
	if q.empty {
		return out, nil
	}
	rows, total, err := db.CountedPage[*model.AppLog](ctx, db.NewLogStore(h.d.DB.Bun), p.Workspace.ID, &q.filter,
		func(total int) (model.Page, bool, error) {
			// Past the end: no rows, no second statement.
			return model.Page{Limit: q.limit, Offset: q.offset}, q.offset < total, nil
		})
	if err != nil {
		return nil, err
	}
	out.Data.Pagination.Total = total
	for _, l := range rows {
		out.Data.Logs = append(out.Data.Logs, genericEntry{
			Timestamp: wholeSecondUTC(l.Timestamp),
			Level:     l.Level.String(),
			Service:   l.Service,
			Message:   l.Message,
			Details:   l.Details,
		})
	}
	// Compared as total-limit so that a huge offset cannot overflow.
	if total := out.Data.Pagination.Total; q.offset < total-q.limit {
		next := q.offset + q.limit
		out.Data.Pagination.NextOffset = &next
	}
	return out, nil
}

// genericToken reads `Authorization: Bearer <token>` or else `X-API-Key: <token>`;
// both are documented for the seed's clients, so either may carry the token.
func genericToken(r *http.Request) string {
	if tok, ok := auth.BearerToken(strings.TrimSpace(r.Header.Get("Authorization"))); ok {
		return tok
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// parseGenericQuery validates the query; msg is the 400 message when it is bad. An
// empty value (`level=`) counts as absent, which is our choice: the seed is silent.
func parseGenericQuery(v url.Values) (q genericQuery, msg string) {
	q.limit = genericDefaultLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > genericMaxLimit {
			return q, genericMsgBadLimit
		}
		q.limit = n
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, genericMsgBadOffset
		}
		q.offset = n
	}
	var start, end *time.Time
	for _, d := range []struct {
		name string
		dst  **time.Time
	}{{"startDate", &start}, {"endDate", &end}} {
		s := v.Get(d.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Sprintf(genericMsgBadDateFormat, d.name)
		}
		*d.dst = &t
	}
	if start != nil && end != nil && start.After(*end) {
		return q, genericMsgDatesReverse
	}
	if start != nil || end != nil {
		tr := &model.TimeRange{}
		if start != nil {
			// Stored times have microsecond precision; a start inside a microsecond
			// begins at the next one (the driver would otherwise truncate it down).
			from := start.Truncate(time.Microsecond)
			if from.Before(*start) {
				from = from.Add(time.Microsecond)
			}
			tr.From = &from
		}
		if end != nil {
			// endDate is inclusive but TimeRange.To is exclusive: since timestamps have
			// microsecond precision, "<= endDate" is "< endDate + 1 microsecond".
			to := end.Truncate(time.Microsecond).Add(time.Microsecond)
			tr.To = &to
		}
		if tr.From != nil && tr.To != nil && !tr.From.Before(*tr.To) {
			q.empty = true // start and end inside one microsecond: nothing can match
		}
		q.filter.Time = tr
	}
	if s := v.Get("level"); s != "" {
		sev, ok := model.ParseSeverity(s)
		if !ok {
			return q, genericMsgBadLevel
		}
		q.filter.Levels = []model.Severity{sev}
	}
	if s := v.Get("service"); s != "" {
		q.filter.Services = []string{s}
	}
	if s := v.Get("search"); s != "" {
		q.filter.Search = &s
	}
	return q, ""
}

func genericFail(w http.ResponseWriter, status int, msg string) {
	writeGenericJSON(w, status, genericError{Status: "error", Message: msg})
}

// writeGenericJSON writes compact JSON without HTML escaping (messages are log text,
// not HTML) and without a trailing newline.
func writeGenericJSON(w http.ResponseWriter, status int, v any) {
	body, err := compactJSON(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"status":"error","message":"`+genericMsgInternal+`"}`)
	}
	writeBody(w, status, "application/json", body)
}
