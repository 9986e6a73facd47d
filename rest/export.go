package rest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// registerExports serves GET /v1/export/{kind}.csv and .ndjson: every log of a kind
// matching the same filter the GraphQL filter input takes, spelled as a query string
// (see the README, "Exports"), streamed newest first with constant memory.
func registerExports(handle func(pattern string, h http.Handler), d Deps) {
	h := &exportHandler{deps: d, logs: db.NewLogStore(d.DB.Bun)}
	handle("GET /v1/export/{file}", h)
	handle("/v1/export/{file}", methodNotAllowed("GET"))
}

// exportHandler serves GET /v1/export/{kind}.csv and .ndjson.
type exportHandler struct {
	deps Deps
	logs *db.LogStore
}

func (h *exportHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := authV1Read(h.deps, w, r)
	if p == nil {
		return
	}
	file := r.PathValue("file")
	name, ext, _ := strings.Cut(file, ".")
	kind, ok := model.KindFromRoute(name)
	if !ok || (ext != "csv" && ext != "ndjson") {
		writeV1Error(w, r, http.StatusNotFound, "unknown_export",
			fmt.Sprintf("unknown export %q; want /v1/export/{kind}.csv or .ndjson with kind one of app, api-request, integration, action, api-reference", file))
		return
	}
	filter, err := exportFilter(kind, r.URL.Query())
	if err != nil {
		writeV1Error(w, r, http.StatusBadRequest, "invalid_parameter", err.Error())
		return
	}
	var enc rowEncoder
	if ext == "csv" {
		enc = newCSVEncoder(w, nil, false)
	} else {
		enc = newNDJSONEncoder(w)
	}
	streamLogs(h.deps, h.logs, w, r, p.Workspace.ID, kind, filter, kind.Route()+"."+ext, enc,
		func(row db.ExportRow) any { return exportRecord(kind, row) })
}

// paramSetter binds all values of one query parameter onto a filter field.
type paramSetter func(name string, vals []string) error

// bindQuery applies the setters to a query string in name order (so the first error
// reported is the same on every call) and refuses a parameter no setter knows:
// a misspelt filter silently ignored would export far more than was asked.
func bindQuery(q url.Values, setters map[string]paramSetter, what string) error {
	names := make([]string, 0, len(q))
	for n := range q {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		set, ok := setters[n]
		if !ok {
			known := make([]string, 0, len(setters))
			for k := range setters {
				known = append(known, k)
			}
			slices.Sort(known)
			return model.InputErrorf("unknown parameter %q; %s accepts %s", n, what, strings.Join(known, ", "))
		}
		if err := set(n, q[n]); err != nil {
			return err
		}
	}
	return nil
}

func single(name string, vals []string) (string, error) {
	if len(vals) != 1 {
		return "", model.InputErrorf("%s: give one value, not %d", name, len(vals))
	}
	return vals[0], nil
}

func setString(dst **string) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		*dst = &v
		return err
	}
}

func setStrings(dst *[]string) paramSetter {
	return func(_ string, vals []string) error {
		*dst = append(*dst, vals...)
		return nil
	}
}

func parseInt(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, model.InputErrorf("%s: %q is not an integer", name, v)
	}
	return n, nil
}

func setInt(dst **int) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		n, err := parseInt(name, v)
		*dst = &n
		return err
	}
}

func setInts(dst *[]int) paramSetter {
	return func(name string, vals []string) error {
		for _, v := range vals {
			n, err := parseInt(name, v)
			if err != nil {
				return err
			}
			*dst = append(*dst, n)
		}
		return nil
	}
}

func setBool(dst **bool) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		if v != "true" && v != "false" {
			return model.InputErrorf("%s: %q is not true or false", name, v)
		}
		b := v == "true"
		*dst = &b
		return nil
	}
}

func setTime(dst **time.Time) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		t, err := model.ParseTimestamp(v)
		if err != nil {
			return model.InputErrorf("%s: %q is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)", name, v)
		}
		*dst = &t
		return nil
	}
}

func setDuration(dst **model.Duration) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		d, err := model.ParseDuration(v)
		if err != nil {
			return model.InputErrorf("%s: %s", name, err.Error())
		}
		*dst = &d
		return nil
	}
}

// parseSeverity accepts the GraphQL enum names in any case (as ingest does).
func parseSeverity(name, v string) (model.Severity, error) {
	s, ok := model.ParseSeverity(strings.ToUpper(v))
	if !ok {
		return 0, model.InputErrorf("%s: %q is not one of DEBUG, INFO, WARN, ERROR, FATAL", name, v)
	}
	return s, nil
}

func setSeverity(dst **model.Severity) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		s, err := parseSeverity(name, v)
		*dst = &s
		return err
	}
}

func setSeverities(dst *[]model.Severity) paramSetter {
	return func(name string, vals []string) error {
		for _, v := range vals {
			s, err := parseSeverity(name, v)
			if err != nil {
				return err
			}
			*dst = append(*dst, s)
		}
		return nil
	}
}

func setOutcome(dst **model.RequestOutcome) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		o := model.RequestOutcome(strings.ToUpper(v))
		if o != model.RequestOutcomeSuccess && o != model.RequestOutcomeError {
			return model.InputErrorf("%s: %q is not one of SUCCESS, ERROR", name, v)
		}
		*dst = &o
		return nil
	}
}

func setCollectionType(dst **model.CollectionType) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		ct := model.CollectionType(strings.ToLower(v))
		if ct != model.CollectionRecipe && ct != model.CollectionProxy {
			return model.InputErrorf("%s: %q is not one of RECIPE, PROXY", name, v)
		}
		*dst = &ct
		return nil
	}
}

func setDetails(dst *map[string]any) paramSetter {
	return func(name string, vals []string) error {
		v, err := single(name, vals)
		if err != nil {
			return err
		}
		// UseNumber keeps large integers exact for the jsonb containment test.
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
			return model.InputErrorf("%s: not a JSON object (e.g. {\"user_id\":12345})", name)
		}
		*dst = m
		return nil
	}
}

// exportFilter reads an export's query string into the kind's filter struct, the
// one GraphQL binds its filter input to: parameter names are the input's field names,
// time's fields are spelled time.from, time.to and time.last, and a list is the
// parameter repeated. The window is resolved once here, so that a long export keeps
// the same lower bound from its first batch to its last.
func exportFilter(kind model.LogKind, q url.Values) (any, error) {
	tr := &model.TimeRange{}
	s := map[string]paramSetter{
		"time.from": setTime(&tr.From),
		"time.to":   setTime(&tr.To),
		"time.last": setDuration(&tr.Last),
	}
	filter, fields := db.NewFilter(kind)
	for name, f := range fields {
		switch p := f.Addr().Interface().(type) {
		case **model.TimeRange:
			*p = tr
		case *[]model.Severity:
			s[name] = setSeverities(p)
		case **model.Severity:
			s[name] = setSeverity(p)
		case *[]string:
			s[name] = setStrings(p)
		case *[]int:
			s[name] = setInts(p)
		case **int:
			s[name] = setInt(p)
		case **string:
			s[name] = setString(p)
		case **bool:
			s[name] = setBool(p)
		case **model.RequestOutcome:
			s[name] = setOutcome(p)
		case **model.CollectionType:
			s[name] = setCollectionType(p)
		case *map[string]any:
			s[name] = setDetails(p)
		default: // a new type of filter field: TestExportFilterEveryKind fails
			panic(fmt.Sprintf("export: no query parameter reads %s's filter field %s (%T)", kind, name, p))
		}
	}
	if err := bindQuery(q, s, "the "+kind.Route()+" export"); err != nil {
		return nil, err
	}
	from, _, err := tr.Bounds(db.Clock())
	if err != nil {
		return nil, err
	}
	if tr.Last != nil {
		tr.From, tr.Last = from, nil
	}
	return filter, nil
}

// ExportFilter is exportFilter for the CLI (`loggraph logs delete --filter`): the
// same parameters select the same rows.
func ExportFilter(kind model.LogKind, q url.Values) (any, error) { return exportFilter(kind, q) }

// rowEncoder writes one export format.
type rowEncoder interface {
	contentType() string
	// begin runs before the first row (CSV writes its header); first is the record
	// of an empty log, from whose type the CSV columns are derived.
	begin(first any) error
	row(rec any) error
	// flush pushes buffered rows to the response writer.
	flush() error
}

// errHeadersOnly ends a HEAD request's stream once its headers are out.
var errHeadersOnly = errors.New("headers only")

// streamLogs streams a kind's logs through enc. Headers are written only once the
// first batch has been read, so that a filter the database refuses is still a clean
// 400; after that an error can only cut the response short, which the client sees
// as a truncated transfer rather than a complete-looking file.
func streamLogs(d Deps, store *db.LogStore, w http.ResponseWriter, r *http.Request, ws uuid.UUID, kind model.LogKind,
	filter any, filename string, enc rowEncoder, record func(db.ExportRow) any) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	started, rows := false, 0
	began := time.Now()
	err := store.Stream(ctx, ws, kind, filter, db.ExportBatchSize, func(batch []db.ExportRow) error {
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", enc.contentType())
			h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodHead {
				return errHeadersOnly // the filter is valid; the rows would be discarded
			}
			if err := enc.begin(record(db.ExportRow{Log: db.NewLog(kind)})); err != nil {
				return err
			}
		}
		for _, row := range batch {
			if err := enc.row(record(row)); err != nil {
				return err
			}
		}
		rows += len(batch)
		// Push each batch to the client: it sees progress, and a client that has gone
		// makes the write fail here at the latest.
		if err := enc.flush(); err != nil {
			return err
		}
		return rc.Flush()
	})
	msg, isInput := inputMessage(err)
	switch {
	case errors.Is(err, errHeadersOnly):
	case err == nil:
		d.Log.InfoContext(ctx, "export done", "kind", kind.Route(), "rows", rows,
			"duration_ms", time.Since(began).Milliseconds())
	case ctx.Err() != nil:
		// The client went away: the running statement was cancelled with ctx.
		d.Log.InfoContext(ctx, "export stopped: client gone", "kind", kind.Route(), "rows", rows)
	case !started && isInput:
		writeV1Error(w, r, http.StatusBadRequest, "invalid_parameter", msg)
	case !started && d.refusal(ctx, "export", err) != nil:
		writeV1Refusal(w, r, d.DB.Refusal(ctx, err))
	case !started:
		d.Log.ErrorContext(ctx, "export failed", "kind", kind.Route(), "err", err)
		writeV1Error(w, r, http.StatusInternalServerError, "internal", "internal error")
	default:
		// Rows were sent with 200: the status cannot change, whatever the cause
		// (a statement timeout or an outage included). The stream ends without its
		// final chunk, so the client sees a broken transfer, not a short file.
		d.Log.ErrorContext(ctx, "export cut short", "kind", kind.Route(), "rows", rows, "err", err)
		panic(http.ErrAbortHandler) // net/http closes the connection without the final chunk
	}
}

// ndjsonEncoder writes one JSON object per line.
type ndjsonEncoder struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

func newNDJSONEncoder(w io.Writer) *ndjsonEncoder {
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // the file is data, not HTML: keep <, > and & as they were ingested
	return &ndjsonEncoder{bw: bw, enc: enc}
}

func (e *ndjsonEncoder) contentType() string { return "application/x-ndjson; charset=utf-8" }
func (e *ndjsonEncoder) begin(any) error     { return nil }
func (e *ndjsonEncoder) row(rec any) error   { return e.enc.Encode(rec) }
func (e *ndjsonEncoder) flush() error        { return e.bw.Flush() }

// csvEncoder writes RFC 4180 CSV (CRLF line ends, quotes where needed) whose columns
// are a record struct's fields: the `csv` tag names the column, else the `json` tag.
// Text cells are guarded against CSV injection (formulaGuard).
type csvEncoder struct {
	w      io.Writer
	cw     *csv.Writer
	bom    bool     // start the file with a UTF-8 byte order mark
	header []string // nil: derived from the record type
	cells  []string
}

// utf8BOM starts a CSV meant for spreadsheets: without it LibreOffice's default import
// and Excel read UTF-8 as a legacy code page and garble every non-ASCII name.
const utf8BOM = "\uFEFF"

func newCSVEncoder(w io.Writer, header []string, bom bool) *csvEncoder {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return &csvEncoder{w: w, cw: cw, bom: bom, header: header}
}

func (e *csvEncoder) contentType() string { return "text/csv; charset=utf-8" }

func (e *csvEncoder) begin(first any) error {
	if e.header == nil {
		for _, c := range columnsOf(reflect.TypeOf(first)) {
			e.header = append(e.header, c.name)
		}
	}
	if e.bom {
		// Nothing is buffered in cw yet, so the mark goes out first.
		if _, err := io.WriteString(e.w, utf8BOM); err != nil {
			return err
		}
	}
	return e.cw.Write(e.header)
}

// formulaGuard is OWASP's CSV injection rule: a text cell that starts with = + - @ tab
// or carriage return would be run as a formula by a spreadsheet (=HYPERLINK(...)), so
// it gets a leading single quote, which spreadsheets show as text and do not print.
// Numbers are never guarded (a negative number is not a formula).
func formulaGuard(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (e *csvEncoder) row(rec any) error {
	v := reflect.ValueOf(rec)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	e.cells = e.cells[:0]
	for _, c := range columnsOf(v.Type()) {
		cell, err := csvCell(v.Field(c.index))
		if err != nil {
			return err
		}
		e.cells = append(e.cells, cell)
	}
	return e.cw.Write(e.cells)
}

func (e *csvEncoder) flush() error {
	e.cw.Flush()
	return e.cw.Error()
}

type csvColumn struct {
	name  string
	index int
}

var columnCache sync.Map // reflect.Type -> []csvColumn

// columnsOf lists a record struct's CSV columns in field order.
func columnsOf(t reflect.Type) []csvColumn {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if c, ok := columnCache.Load(t); ok {
		return c.([]csvColumn)
	}
	var cols []csvColumn
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("csv")
		if name == "" {
			name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
		}
		if name == "" || name == "-" {
			continue
		}
		cols = append(cols, csvColumn{name: name, index: i})
	}
	columnCache.Store(t, cols)
	return cols
}

var rawJSONType = reflect.TypeFor[json.RawMessage]()

// csvCell prints one value: nil is an empty cell, scalars as text, and nested
// arrays and objects as their JSON text.
func csvCell(v reflect.Value) (string, error) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return formulaGuard(v.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	}
	var buf bytes.Buffer
	if v.Type() == rawJSONType {
		raw := v.Bytes()
		if len(raw) == 0 || string(raw) == "null" {
			return "", nil
		}
		// Compact, as the NDJSON line prints it (jsonb's text form has spaces).
		if err := json.Compact(&buf, raw); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.Interface()); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// exportTime prints a stored time: RFC 3339 in UTC with as many fractional digits as
// it has, so that a re-ingested export stores the same instant.
func exportTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// The export records are the ingest records of each kind (POST /v1/ingest), field for
// field and in the product page's order, so that an export can be ingested again.

type appRecord struct {
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	Level     string          `json:"level"`
	Service   string          `json:"service"`
	Message   string          `json:"message"`
	Details   json.RawMessage `json:"details"`
	TraceID   *string         `json:"trace_id"`
	SpanID    *string         `json:"span_id"`
}

type apiRequestRecord struct {
	ID             string  `json:"id"`
	ReceivedAt     string  `json:"received_at"`
	Code           int     `json:"code"`
	GatewayCode    *int    `json:"gateway_code"`
	StatusDetails  *string `json:"status_details"`
	IP             string  `json:"ip"`
	TimingMs       int     `json:"timing_ms"`
	DelayMs        int     `json:"delay_ms"`
	Collection     string  `json:"collection"`
	CollectionType string  `json:"collection_type"`
	Endpoint       string  `json:"endpoint"`
	Client         *string `json:"client"`
	JobURL         *string `json:"job_url"`
	TraceID        *string `json:"trace_id"`
	SpanID         *string `json:"span_id"`
}

type integrationRecord struct {
	ID              string  `json:"id"`
	IntegrationID   string  `json:"integration_id"`
	IntegrationName *string `json:"integration_name"`
	JobID           *string `json:"job_id"`
	Succeeded       bool    `json:"succeeded"`
	Attempt         int     `json:"attempt"`
	Body            *string `json:"body"`
	StatusCode      int     `json:"status_code"`
	ErrorDetail     *string `json:"error_detail"`
	CreatedAt       string  `json:"created_at"`
}

type actionRecord struct {
	ID         int64   `json:"id"`
	Level      int     `json:"level"`
	LoggerName string  `json:"logger_name"`
	Message    string  `json:"message"`
	AppName    string  `json:"app_name"`
	Trace      *string `json:"trace"`
	CreatedAt  string  `json:"created_at"`
}

type apiReferenceRecord struct {
	LogsID           string              `json:"logs_id"`
	APIReferenceID   string              `json:"api_reference_id"`
	APIReferenceName *string             `json:"api_reference_name"`
	UserID           string              `json:"user_id"`
	UserName         string              `json:"user_name"`
	Title            string              `json:"title"`
	ModifiedAt       string              `json:"modified_at"`
	ErrorCount       int                 `json:"error_count"`
	AlertsCount      int                 `json:"alerts_count"`
	Errors           []model.ImportIssue `json:"errors"`
	Alerts           []model.ImportIssue `json:"alerts"`
}

// hexText is an optional trace or span id as the ingest record writes it.
func hexText[T interface{ String() string }](id *T) *string {
	if id == nil {
		return nil
	}
	s := (*id).String()
	return &s
}

// exportRecord is a row's ingest record.
func exportRecord(kind model.LogKind, row db.ExportRow) any {
	switch l := row.Log.(type) {
	case *model.AppLog:
		rec := &appRecord{ID: l.ID.String(), Timestamp: exportTime(l.Timestamp), Service: l.Service, Message: l.Message, Details: l.Details,
			TraceID: hexText(l.TraceID), SpanID: hexText(l.SpanID)}
		if l.Level.IsValid() {
			rec.Level = l.Level.String()
		}
		return rec
	case *model.APIRequestLog:
		rec := &apiRequestRecord{ID: l.ID.String(), ReceivedAt: exportTime(l.ReceivedAt), Code: l.Code, GatewayCode: l.GatewayCode,
			StatusDetails: l.StatusDetails, IP: ipText(l), TimingMs: l.TimingMs, DelayMs: l.DelayMs, Endpoint: l.Endpoint, JobURL: l.JobURL,
			TraceID: hexText(l.TraceID), SpanID: hexText(l.SpanID)}
		if row.Collection != nil {
			rec.Collection, rec.CollectionType = row.Collection.Name, string(row.Collection.Type)
		}
		if row.Client != nil {
			rec.Client = &row.Client.Name
		}
		return rec
	case *model.IntegrationLog:
		rec := &integrationRecord{ID: l.ID.String(), IntegrationID: l.IntegrationID.String(), Succeeded: l.Succeeded, Attempt: l.Attempt,
			Body: l.Body, StatusCode: l.StatusCode, ErrorDetail: l.ErrorDetail, CreatedAt: exportTime(l.CreatedAt)}
		if row.Integration != nil {
			rec.IntegrationName = row.Integration.Name
		}
		if l.JobID != nil {
			s := l.JobID.String()
			rec.JobID = &s
		}
		return rec
	case *model.ActionLog:
		return &actionRecord{ID: l.ID, Level: l.Level, LoggerName: l.LoggerName, Message: l.Message, AppName: l.AppName,
			Trace: l.Trace, CreatedAt: exportTime(l.CreatedAt)}
	case *model.APIReferenceLog:
		rec := &apiReferenceRecord{LogsID: l.ID, APIReferenceID: l.APIReferenceID, UserID: l.UserID, Title: l.Title,
			ModifiedAt: exportTime(l.ModifiedAt), ErrorCount: l.ErrorCount, AlertsCount: l.AlertsCount, Errors: l.Errors, Alerts: l.Alerts}
		// Empty lists print as [] rather than null: the shape stays the same on every line.
		if rec.Errors == nil {
			rec.Errors = []model.ImportIssue{}
		}
		if rec.Alerts == nil {
			rec.Alerts = []model.ImportIssue{}
		}
		if row.APIReference != nil {
			rec.APIReferenceName = row.APIReference.Name
		}
		if row.User != nil {
			rec.UserName = row.User.Name
		}
		return rec
	}
	panic(fmt.Sprintf("export: no record for kind %s", kind))
}

// ipText prints the client address; the zero address (never stored) prints empty.
func ipText(l *model.APIRequestLog) string {
	if !l.IP.IsValid() {
		return ""
	}
	return l.IP.String()
}
