package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// The Document360 shim (seed 000): GET /v2/APIReferences/{apiReferenceId}/Logs and its
// sibling .../Logs/{logId}, answered as Document360's ASP.NET backend answers them.
// What the vendor documents is marked "vendor"; everything else is ours.
const (
	// d360TokenHeader carries the raw token (vendor: securityScheme api_token, in header).
	d360TokenHeader = "api_token"
	// d360DefaultPage is the page when none is given (vendor default).
	d360DefaultPage = 1
	// d360DefaultResultsPerPage is the page size when none is given (vendor default).
	d360DefaultResultsPerPage = 5
	// d360MaxResultsPerPage is ours: v2 documents no maximum. A larger value is a 400
	// naming the limit, never a silent cap: the API has no paging metadata, so a client
	// that got fewer rows than it asked for takes that page as the last one.
	d360MaxResultsPerPage = 1000
	// d360IntBits is the width of page and resultsPerPage (vendor: integer int32); wider
	// values fail binding like any other non-integer.
	d360IntBits = 32
	// d360ContentType is ours: what ASP.NET sends for JSON; the docs show no header.
	d360ContentType = "application/json; charset=utf-8"
	// d360RefNotFound is the vendor's 400 description for an unknown reference.
	d360RefNotFound = "Api reference not found."
	// d360LogNotFound is the vendor's 400 description for an unknown log (detail).
	d360LogNotFound = "Logs not found."
	// d360InvalidToken is ours: 401 is documented, its body is not.
	d360InvalidToken = "Invalid API token."
	// d360Forbidden is ours: 403 is documented, its body is not.
	d360Forbidden = "You do not have permission to access this resource."
	// d360InvalidValue is ours: the 400 for a query value that is not an int32.
	d360InvalidValue = "Invalid value for '%s'."
	// d360TooManyPerPage is ours: the 400 for resultsPerPage above d360MaxResultsPerPage.
	d360TooManyPerPage = "Invalid value for 'resultsPerPage': at most %d results per page."
	// d360Internal is ours: the 500 description (the cause is logged, never sent).
	d360Internal = "An unexpected error occurred."
)

// d360Object stands for the vendor's `object | null` fields (extension_data,
// custom_data), which this server never fills: always nil, encoded as null.
type d360Object = *struct{}

// d360BaseError is the vendor's BaseError, in its key order.
type d360BaseError struct {
	ExtensionData d360Object `json:"extension_data"`
	StackTrace    *string    `json:"stack_trace"`
	Description   string     `json:"description"`
	ErrorCode     *string    `json:"error_code"`
	CustomData    d360Object `json:"custom_data"`
}

// d360BaseWarning is the vendor's BaseWarning; the shim sends none, but the type keeps
// the envelope's element shape explicit.
type d360BaseWarning struct {
	ExtensionData d360Object `json:"extension_data"`
	Description   *string    `json:"description"`
	WarningCode   *string    `json:"warning_code"`
}

// d360BaseInformation is the vendor's BaseInformation (never sent, as above).
type d360BaseInformation struct {
	ExtensionData d360Object `json:"extension_data"`
	Description   *string    `json:"description"`
}

// d360ErrorResponse is the failure envelope (the vendor's 400 example): no data key.
type d360ErrorResponse struct {
	ExtensionData d360Object            `json:"extension_data"`
	Success       bool                  `json:"success"`
	Errors        []d360BaseError       `json:"errors"`
	Warnings      []d360BaseWarning     `json:"warnings"`
	Information   []d360BaseInformation `json:"information"`
}

// d360LogItem is ApiReferenceLogsDataCustomer, in the seed's key order.
type d360LogItem struct {
	LogsID      string  `json:"logs_id"`
	UserName    *string `json:"user_name"`
	UserID      string  `json:"user_id"`
	Title       string  `json:"title"`
	ModifiedAt  string  `json:"modified_at"`
	ErrorCount  int     `json:"error_count"`
	AlertsCount int     `json:"alerts_count"`
}

// d360ListResponse is ApiReferenceLogsWrapResponseCustomer, in the seed's key order.
type d360ListResponse struct {
	Data          []d360LogItem         `json:"data"`
	ExtensionData d360Object            `json:"extension_data"`
	Success       bool                  `json:"success"`
	Errors        []d360BaseError       `json:"errors"`
	Warnings      []d360BaseWarning     `json:"warnings"`
	Information   []d360BaseInformation `json:"information"`
}

// d360Issue is the vendor's ApiLogs: one error or alert of an import.
type d360Issue struct {
	Message *string `json:"message"`
	Pointer *string `json:"pointer"`
}

// d360DetailResponse is GetLogsDetailsResponseCustomer, in the swagger's key order.
type d360DetailResponse struct {
	APIReferenceErrors []d360Issue           `json:"api_reference_errors"`
	APIReferenceAlerts []d360Issue           `json:"api_reference_alerts"`
	ExtensionData      d360Object            `json:"extension_data"`
	Success            bool                  `json:"success"`
	Errors             []d360BaseError       `json:"errors"`
	Warnings           []d360BaseWarning     `json:"warnings"`
	Information        []d360BaseInformation `json:"information"`
}

// document360 serves the shim's two routes.
type document360 struct {
	deps     Deps
	logs     *db.LogStore
	entities *db.EntityStore
}

// registerDocument360 adds the Document360 shim (seed 000) to the router.
func registerDocument360(handle func(pattern string, h http.Handler), d Deps) {
	h := &document360{deps: d, logs: db.NewLogStore(d.DB.Bun), entities: db.NewEntityStore(d.DB.Bun)}
	// ASP.NET routing ignores case but ServeMux does not: take every GET under /v2 (the
	// two spellings of the prefix) and match the rest here. More specific /v2 patterns
	// of other shims still win.
	handle("GET /v2/{rest...}", h)
	handle("GET /V2/{rest...}", h)
}

// ServeHTTP dispatches /v2/APIReferences/{id}/Logs[/{logId}][/] in any case; any
// other /v2 path is not ours and gets the server's plain 404.
func (h *document360) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, ok := d360Segments(r.URL.EscapedPath())
	if !ok || len(segs) < 3 || len(segs) > 4 || !strings.EqualFold(segs[0], "APIReferences") ||
		!strings.EqualFold(segs[2], "Logs") || segs[1] == "" || (len(segs) == 4 && segs[3] == "") {
		http.NotFound(w, r)
		return
	}
	if len(segs) == 3 {
		h.list(w, r, segs[1])
		return
	}
	h.detail(w, r, segs[1], segs[3])
}

// d360Segments splits an escaped path below its /v2/ prefix into unescaped segments,
// dropping one trailing slash. Splitting before unescaping keeps an id holding %2F
// in one piece.
func d360Segments(escaped string) ([]string, bool) {
	if len(escaped) < 4 || !strings.EqualFold(escaped[:4], "/v2/") {
		return nil, false
	}
	rest := strings.TrimSuffix(escaped[4:], "/")
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		parts[i] = s
	}
	return parts, true
}

// authorize reads the api_token header; on refusal it has answered in the envelope.
func (h *document360) authorize(w http.ResponseWriter, r *http.Request) (*model.Principal, bool) {
	p, refusal, capacity := ReadPrincipal(h.deps, r, r.Header.Get(d360TokenHeader))
	switch refusal {
	case Allowed:
		return p, true
	case OverCapacity:
		writeD360Refusal(w, capacity)
	case Unauthenticated:
		writeD360Error(w, http.StatusUnauthorized, d360InvalidToken)
	case Forbidden:
		writeD360Error(w, http.StatusForbidden, d360Forbidden)
	default:
		writeD360Error(w, http.StatusInternalServerError, d360Internal)
	}
	return nil, false
}

// list answers GET /v2/APIReferences/{id}/Logs: auth, then the query values, then the
// reference, newest first by page number.
func (h *document360) list(w http.ResponseWriter, r *http.Request, refID string) {
	p, ok := h.authorize(w, r)
	if !ok {
		return
	}
	page, pageOK := d360IntParam(r.URL.RawQuery, "page", d360DefaultPage)
	perPage, perPageOK := d360IntParam(r.URL.RawQuery, "resultsPerPage", d360DefaultResultsPerPage)
	// Like ASP.NET's model state, every invalid value is reported, in documented order.
	var invalid []string
	if !pageOK {
		invalid = append(invalid, fmt.Sprintf(d360InvalidValue, "page"))
	}
	switch {
	case !perPageOK:
		invalid = append(invalid, fmt.Sprintf(d360InvalidValue, "resultsPerPage"))
	case perPage > d360MaxResultsPerPage:
		invalid = append(invalid, fmt.Sprintf(d360TooManyPerPage, d360MaxResultsPerPage))
	}
	if len(invalid) > 0 {
		writeD360Error(w, http.StatusBadRequest, invalid...)
		return
	}
	if err := model.CheckText("apiReferenceId", refID); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	ws := p.Workspace.ID
	found, err := h.referenceExists(ctx, ws, refID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !found {
		writeD360Error(w, http.StatusBadRequest, d360RefNotFound)
		return
	}
	var rows []*model.APIReferenceLog
	filter := &model.APIReferenceLogFilter{APIReferenceIDs: []string{refID}}
	// page and perPage are int32-bounded, so the offset cannot overflow.
	pg := model.Page{Limit: perPage, Offset: (page - 1) * perPage}
	if _, err := h.logs.List(ctx, ws, model.KindAPIReference, filter, pg, &rows); err != nil {
		h.fail(w, r, err)
		return
	}
	names, err := h.userNames(ctx, ws, rows)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := d360ListResponse{Data: make([]d360LogItem, len(rows)), Success: true,
		Errors: []d360BaseError{}, Warnings: []d360BaseWarning{}, Information: []d360BaseInformation{}}
	for i, l := range rows {
		out.Data[i] = d360LogItem{LogsID: l.ID, UserName: names[l.UserID], UserID: l.UserID, Title: l.Title,
			ModifiedAt: d360Time(l.ModifiedAt), ErrorCount: l.ErrorCount, AlertsCount: l.AlertsCount}
	}
	writeD360(w, http.StatusOK, out)
}

// detail answers GET /v2/APIReferences/{id}/Logs/{logId}: the reference is checked
// before the log, and a log of another reference is not found.
func (h *document360) detail(w http.ResponseWriter, r *http.Request, refID, logID string) {
	p, ok := h.authorize(w, r)
	if !ok {
		return
	}
	for _, id := range []struct{ name, v string }{{"apiReferenceId", refID}, {"logId", logID}} {
		if err := model.CheckText(id.name, id.v); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	ctx, ws := r.Context(), p.Workspace.ID
	found, err := h.referenceExists(ctx, ws, refID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !found {
		writeD360Error(w, http.StatusBadRequest, d360RefNotFound)
		return
	}
	l, err := h.logs.LogByID(ctx, ws, model.KindAPIReference, logID)
	var ref *model.APIReferenceLog
	if err == nil {
		ref, _ = l.(*model.APIReferenceLog)
	}
	switch {
	case err != nil && !errors.Is(err, db.ErrNotFound):
		h.fail(w, r, err)
		return
	case err != nil, ref == nil, ref.APIReferenceID != refID:
		writeD360Error(w, http.StatusBadRequest, d360LogNotFound)
		return
	}
	writeD360(w, http.StatusOK, d360DetailResponse{
		APIReferenceErrors: d360Issues(ref.Errors), APIReferenceAlerts: d360Issues(ref.Alerts), Success: true,
		Errors: []d360BaseError{}, Warnings: []d360BaseWarning{}, Information: []d360BaseInformation{}})
}

// referenceExists looks the reference up in the caller's workspace only, so another
// workspace's reference answers as one that does not exist.
func (h *document360) referenceExists(ctx context.Context, ws uuid.UUID, refID string) (bool, error) {
	var refs []*model.APIReference
	if err := h.entities.ByIDs(ctx, ws, []string{refID}, &refs); err != nil {
		return false, err
	}
	return len(refs) > 0, nil
}

// userNames loads the team accounts of a page's logs in one statement; a log whose
// account is missing gets a null user_name (the vendor's field is string | null).
func (h *document360) userNames(ctx context.Context, ws uuid.UUID, rows []*model.APIReferenceLog) (map[string]*string, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := db.Distinct(rows, func(l *model.APIReferenceLog) (string, bool) { return l.UserID, true })
	accounts, err := db.ByID(ctx, h.entities, ws, ids, func(a *model.TeamAccount) string { return a.ID })
	if err != nil {
		return nil, err
	}
	names := make(map[string]*string, len(accounts))
	for _, a := range accounts {
		names[a.ID] = &a.Name
	}
	return names, nil
}

// fail answers a store error: a caller's mistake (inputMessage) is a 400 naming
// it; anything else is logged with the request id and answers 500 in the envelope.
func (h *document360) fail(w http.ResponseWriter, r *http.Request, err error) {
	if msg, isInput := inputMessage(err); isInput {
		writeD360Error(w, http.StatusBadRequest, msg)
		return
	}
	if ref := h.deps.refusal(r.Context(), "document360", err); ref != nil {
		writeD360Refusal(w, ref)
		return
	}
	h.deps.Log.ErrorContext(r.Context(), "document360", "err", err)
	writeD360Error(w, http.StatusInternalServerError, d360Internal)
}

// d360Issues turns stored import issues into the vendor's ApiLogs, [] when none. The
// store keeps an absent pointer as "", sent as null (the vendor's string | null).
func d360Issues(in []model.ImportIssue) []d360Issue {
	out := make([]d360Issue, len(in))
	for i, is := range in {
		out[i].Message = &is.Message
		if is.Pointer != "" {
			out[i].Pointer = &is.Pointer
		}
	}
	return out
}

// d360Time formats as the seed documents modified_at: YYYY-MM-DDTHH:MM:SSZ in UTC,
// the fraction of a second cut off (truncated, never rounded up into the next second),
// so that clients parsing the documented format (jq's fromdateiso8601) read every row.
func d360Time(t time.Time) string { return wholeSecondUTC(t) }

// d360IntParam reads an int32 query value as ASP.NET binds it: the key matches in any
// case, the first occurrence wins, surrounding white space and a sign are allowed.
// A value below 1 falls back to def; a missing key is def; anything else that is not
// an int32 (the empty string included) is invalid.
func d360IntParam(rawQuery, name string, def int) (int, bool) {
	for pair := range strings.SplitSeq(rawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || !strings.EqualFold(key, name) {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.Trim(val, " \t\n\v\f\r"), 10, d360IntBits)
		if err != nil {
			return 0, false
		}
		if n < 1 {
			return def, true
		}
		return int(n), true
	}
	return def, true
}

// writeD360Error answers the failure envelope with one BaseError per description.
func writeD360Error(w http.ResponseWriter, status int, descriptions ...string) {
	errs := make([]d360BaseError, len(descriptions))
	for i, d := range descriptions {
		errs[i].Description = d
	}
	writeD360(w, status, d360ErrorResponse{Errors: errs, Warnings: []d360BaseWarning{}, Information: []d360BaseInformation{}})
}

// writeD360 writes compact JSON as the vendor's backend does: no HTML escaping of
// <, > and & (Newtonsoft's default) and no trailing newline.
func writeD360(w http.ResponseWriter, status int, v any) {
	body, err := compactJSON(v)
	if err != nil { // only our own structs: cannot fail
		panic(err)
	}
	writeBody(w, status, d360ContentType, body)
}
