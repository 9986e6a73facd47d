package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// Seed 003 (Workato API platform "API logs"). Workato documents a UI page with
// filters and a CSV download, and no REST endpoint for these logs: the two routes,
// their parameters and the JSON shape below are our design. The CSV's columns are the
// documented ones, in the documented order.
//
//	GET /api-logs             JSON, newest first, keyset paging:
//	                          limit (default 50, 1..1000), cursor (the previous
//	                          page's next_cursor); reply {"data": [...], "next_cursor": "..." | null}
//	GET /api-logs/export.csv  every matching row as CSV, streamed
//
// Both take `Authorization: Bearer <token>` (a read or admin token) and the filters
// of the logs page: period (24h, 7d, 30d, 90d; default 30d), from and to (RFC 3339,
// from inclusive and to exclusive; either one replaces period), status (an HTTP code,
// repeatable), client (a name, repeatable), collection_type (recipe or proxy) and
// collection (a name, repeatable). Errors use the /v1 envelope.
const (
	// apiLogsDefaultLimit is ours: GraphQL's default page size.
	apiLogsDefaultLimit = model.DefaultPageSize
	// apiLogsMaxLimit is ours: GraphQL's maximum page size.
	apiLogsMaxLimit = model.MaxPageSize
	// apiLogsDefaultPeriod is the UI's example ("Last 30 days"), which is also
	// Workato's default retention.
	apiLogsDefaultPeriod = "30d"
)

// apiLogsPeriods are the period values: the UI's documented example (30 days) and the
// options its wording suggests; 90 days is the longest retention Workato sells.
var apiLogsPeriods = map[string]time.Duration{
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour,
}

// registerAPILogs serves the seed-003 routes, GET /api-logs and GET
// /api-logs/export.csv (405 for other methods).
func registerAPILogs(handle func(pattern string, h http.Handler), d Deps) {
	logs := db.NewLogStore(d.DB.Bun)
	handle("GET /api-logs", apiLogsList(d, logs))
	handle("GET /api-logs/export.csv", apiLogsExport(d, logs))
	handle("/api-logs", methodNotAllowed("GET"))
	handle("/api-logs/export.csv", methodNotAllowed("GET"))
}

// apiLogItem is one request as the JSON list and the CSV print it: the csv tags are
// the documented column names in the documented order (the CSV header is derived from
// them), the JSON names are those columns in snake_case, plus the row's id (JSON only). Timing and delay
// are milliseconds; absent values are null in JSON and empty in CSV.
type apiLogItem struct {
	ID            string  `json:"id" csv:"-"`
	Date          string  `json:"date" csv:"Date"`
	Type          string  `json:"type" csv:"Type"`
	Code          int     `json:"code" csv:"Code"`
	Status        string  `json:"status" csv:"Status"`
	GatewayCode   *int    `json:"gateway_code" csv:"Gateway code"`
	StatusDetails *string `json:"status_details" csv:"Status details"`
	IP            string  `json:"ip" csv:"IP"`
	Timing        int     `json:"timing" csv:"Timing"`
	Delay         int     `json:"delay" csv:"Delay"`
	APICollection string  `json:"api_collection" csv:"API collection"`
	Endpoint      string  `json:"endpoint" csv:"Endpoint"`
	Client        *string `json:"client" csv:"Client"`
	JobDetails    *string `json:"job_details" csv:"Job details"`
}

// apiLogRecord maps a request log and its entities to the 003 shape.
func apiLogRecord(row db.ExportRow) any {
	l := row.Log.(*model.APIRequestLog)
	it := &apiLogItem{ID: l.ID.String(), Date: exportTime(l.ReceivedAt), Type: "Success", Code: l.Code,
		Status: model.StatusText(l.Code), GatewayCode: l.GatewayCode, StatusDetails: l.StatusDetails, IP: ipText(l),
		Timing: l.TimingMs, Delay: l.DelayMs, Endpoint: l.Endpoint, JobDetails: l.JobURL}
	if l.Code >= 400 {
		it.Type = "Error"
	}
	if row.Collection != nil {
		it.APICollection = row.Collection.Name
	}
	if row.Client != nil {
		it.Client = &row.Client.Name
	}
	return it
}

// apiLogsFilter reads the 003 filters (and, for the JSON list, the paging
// parameters) into the API request filter GraphQL uses.
func apiLogsFilter(q url.Values, paging bool) (*model.APIRequestLogFilter, model.Page, error) {
	f := &model.APIRequestLogFilter{}
	page := model.Page{Limit: apiLogsDefaultLimit}
	period := apiLogsDefaultPeriod
	var from, to *time.Time
	var statuses []string
	s := map[string]paramSetter{
		"period": func(name string, vals []string) error {
			v, err := single(name, vals)
			if err != nil {
				return err
			}
			if _, ok := apiLogsPeriods[v]; !ok {
				return model.InputErrorf("period: %q is not one of 24h, 7d, 30d, 90d", v)
			}
			period = v
			return nil
		},
		"from":            setTime(&from),
		"to":              setTime(&to),
		"status":          setStrings(&statuses),
		"client":          setStrings(&f.Clients),
		"collection":      setStrings(&f.Collections),
		"collection_type": setCollectionType003(&f.CollectionType),
	}
	what := "GET /api-logs/export.csv"
	if paging {
		what = "GET /api-logs"
		s["limit"] = func(name string, vals []string) error {
			v, err := single(name, vals)
			if err != nil {
				return err
			}
			n, err := parseInt(name, v)
			if err != nil {
				return err
			}
			if n < 1 || n > apiLogsMaxLimit {
				return model.InputErrorf("limit: %d is out of range 1..%d", n, apiLogsMaxLimit)
			}
			page.Limit = n
			return nil
		}
		s["cursor"] = func(name string, vals []string) error {
			v, err := single(name, vals)
			if err != nil {
				return err
			}
			c, err := model.DecodeCursor("cursor", v, string(model.KindAPIRequest))
			if err != nil {
				return err
			}
			if _, err := uuid.Parse(c.ID); err != nil {
				return model.InputErrorf("cursor: not a valid cursor")
			}
			page.After = c
			return nil
		}
	}
	if err := bindQuery(q, s, what); err != nil {
		return nil, page, err
	}
	for _, v := range statuses {
		code, err := strconv.Atoi(v)
		if err != nil || code < 100 || code > 599 {
			return nil, page, model.InputErrorf("status: %q is not an HTTP status code (100..599)", v)
		}
		f.Codes = append(f.Codes, code)
	}
	// from/to replace the period rather than narrowing it: a caller who names dates
	// wants those dates, even beyond the last 30 days.
	if from != nil || to != nil {
		if from != nil && to != nil && !from.Before(*to) {
			return nil, page, model.InputErrorf("from (%s) must be before to (%s)", exportTime(*from), exportTime(*to))
		}
		f.Time = &model.TimeRange{From: from, To: to}
	} else {
		since := db.Clock().Add(-apiLogsPeriods[period])
		f.Time = &model.TimeRange{From: &since}
	}
	return f, page, nil
}

// setCollectionType003 reads the UI's collection types, recipe or proxy (any case).
func setCollectionType003(dst **model.CollectionType) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		ct := model.CollectionType(strings.ToLower(v))
		if ct != model.CollectionRecipe && ct != model.CollectionProxy {
			return model.InputErrorf("collection_type: %q is not one of recipe, proxy", v)
		}
		*dst = &ct
		return nil
	}
}

// apiLogsPage is the JSON list's reply.
type apiLogsPage struct {
	Data       []any   `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func apiLogsList(d Deps, logs *db.LogStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := authV1Read(d, w, r)
		if p == nil {
			return
		}
		f, page, err := apiLogsFilter(r.URL.Query(), true)
		if err != nil {
			writeV1Error(w, r, http.StatusBadRequest, "invalid_parameter", err.Error())
			return
		}
		reply, err := apiLogsRead(r.Context(), logs, p.Workspace.ID, f, page)
		switch msg, isInput := inputMessage(err); {
		case err == nil:
			writeJSON(w, http.StatusOK, reply)
		case r.Context().Err() != nil:
			// The client went away: nobody to answer.
		case isInput:
			writeV1Error(w, r, http.StatusBadRequest, "invalid_parameter", msg)
		default:
			if ref := d.refusal(r.Context(), "api logs", err); ref != nil {
				writeV1Refusal(w, r, ref)
				return
			}
			d.Log.ErrorContext(r.Context(), "api logs", "err", err)
			writeV1Error(w, r, http.StatusInternalServerError, "internal", "internal error")
		}
	})
}

// apiLogsRead reads one page with its collections and clients: one statement for the
// page and one per entity table.
func apiLogsRead(ctx context.Context, logs *db.LogStore, ws uuid.UUID, f *model.APIRequestLogFilter, page model.Page) (*apiLogsPage, error) {
	rows, more, err := logs.ListLogs(ctx, ws, model.KindAPIRequest, f, page)
	if err != nil {
		return nil, err
	}
	named, err := logs.WithEntities(ctx, ws, model.KindAPIRequest, rows)
	if err != nil {
		return nil, err
	}
	reply := &apiLogsPage{Data: make([]any, len(named))}
	for i, row := range named {
		reply.Data[i] = apiLogRecord(row)
	}
	if more {
		c := db.LogCursor(rows[len(rows)-1]).Encode()
		reply.NextCursor = &c
	}
	return reply, nil
}

func apiLogsExport(d Deps, logs *db.LogStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := authV1Read(d, w, r)
		if p == nil {
			return
		}
		f, _, err := apiLogsFilter(r.URL.Query(), false)
		if err != nil {
			writeV1Error(w, r, http.StatusBadRequest, "invalid_parameter", err.Error())
			return
		}
		streamLogs(d, logs, w, r, p.Workspace.ID, model.KindAPIRequest, f, "api-logs.csv",
			newCSVEncoder(w, nil, true), apiLogRecord)
	})
}

// inputMessage is the message of a caller's mistake, if err is one: a
// model.InputError (the validation before SQL), or, as a safety net, a value
// PostgreSQL refused that only the caller can have sent.
func inputMessage(err error) (string, bool) {
	var ie *model.InputError
	if errors.As(err, &ie) {
		return ie.Msg, true
	}
	if db.IsBadInputValue(err) {
		return db.BadInputMessage, true
	}
	return "", false
}
