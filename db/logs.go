package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// LogStore reads logs: every surface (GraphQL, REST shims, exports) lists through it
// with the model's filter structs, which become SQL here and only here.
type LogStore struct {
	db bun.IDB
	// rowsOnly answers every analytic from the rows, never from log_rollups.
	rowsOnly bool
	// cache, when set, keeps closed histogram buckets (analytics_cache.go).
	cache *AnalyticsCache
}

// NewLogStore returns the log reader.
func NewLogStore(db bun.IDB) *LogStore { return &LogStore{db: db} }

// WithoutRollups returns a reader of the same database whose analytics read only
// rows (serve --analytics-rollups=false; the analytics benchmark's baseline). The
// answers are the same, only slower over long windows.
func (s *LogStore) WithoutRollups() *LogStore {
	c := *s
	c.rowsOnly = true
	return &c
}

// Clock gives "now" to time ranges such as last: 24h (tests pin it).
var Clock = time.Now

// likePattern makes a case-insensitive substring pattern of user text.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// timeFilter adds the window on the kind's time column.
func timeFilter(q *bun.SelectQuery, col string, r *model.TimeRange) error {
	from, to, err := r.Bounds(Clock())
	if err != nil {
		return err
	}
	if from != nil {
		q.Where("? >= ?", bun.Ident(col), *from)
	}
	if to != nil {
		q.Where("? < ?", bun.Ident(col), *to)
	}
	return nil
}

// keyset adds the cursor bounds, the order and the limit (readLimit: one row more
// than the page to learn whether another page follows).
func keyset(q *bun.SelectQuery, timeCol, idCast string, p model.Page) error {
	for _, b := range []struct {
		c  *model.Cursor
		op string
	}{{p.After, "<"}, {p.Before, ">"}} {
		if b.c == nil {
			continue
		}
		if err := checkCursorID(b.c.ID, idCast); err != nil {
			return err
		}
		q.Where("(?, id) "+b.op+" (?, ?::"+idCast+")", bun.Ident(timeCol), b.c.Time, b.c.ID)
	}
	dir := "DESC"
	if p.Backward {
		dir = "ASC"
	}
	if p.ByID {
		if p.After != nil || p.Before != nil {
			return errors.New("list: a page by id takes no cursor")
		}
		q.OrderExpr("id "+dir+", ? "+dir, bun.Ident(timeCol))
	} else {
		q.OrderExpr("? "+dir+", id "+dir, bun.Ident(timeCol))
	}
	q.Limit(readLimit(p))
	if p.Offset > 0 {
		q.Offset(int64(p.Offset))
	}
	return nil
}

// checkCursorID refuses a cursor whose id cannot be of the list's type (a tampered
// cursor is the caller's mistake, not a database error).
func checkCursorID(id, typ string) error {
	var err error
	switch typ {
	case "uuid":
		_, err = uuid.Parse(id)
	case "bigint":
		_, err = strconv.ParseInt(id, 10, 64)
	}
	if err != nil {
		return model.InputErrorf("after/before: not a valid cursor")
	}
	return nil
}

// LogCursor is the cursor of a log in its kind's list.
func LogCursor(l model.Log) model.Cursor {
	return model.Cursor{Scope: string(l.Kind()), Time: l.Time(), ID: model.LogID(l)}
}

// filterApp turns an AppLogFilter into WHERE clauses.
func filterApp(q *bun.SelectQuery, f *model.AppLogFilter) error {
	if f == nil {
		return nil
	}
	if err := timeFilter(q, "timestamp", f.Time); err != nil {
		return err
	}
	if len(f.Levels) > 0 {
		q.Where("level IN (?)", bun.List(f.Levels))
	}
	if f.MinLevel != nil {
		q.Where("level >= ?", *f.MinLevel)
	}
	if len(f.Services) > 0 {
		q.Where("service IN (?)", bun.List(f.Services))
	}
	kindOf(model.KindApp).whereSearch(q, f.Search)
	if f.Details != nil {
		b, err := json.Marshal(f.Details)
		if err != nil {
			return model.InputErrorf("details: not a JSON object")
		}
		// details is json (the client's text, keys in their order); the cast makes
		// containment compare values, whatever the key order or spacing.
		q.Where("details::jsonb @> ?::jsonb", string(b))
	}
	return kindOf(model.KindApp).whereTrace(q, "traceIds", f.TraceIDs)
}

func filterAPIRequest(q *bun.SelectQuery, ws uuid.UUID, f *model.APIRequestLogFilter) error {
	if f == nil {
		return nil
	}
	if err := timeFilter(q, "received_at", f.Time); err != nil {
		return err
	}
	if len(f.Codes) > 0 {
		q.Where("code IN (?)", bun.List(f.Codes))
	}
	if len(f.CodeClasses) > 0 {
		var los []int
		for _, c := range f.CodeClasses {
			lo, _, err := model.CodeClassRange(c)
			if err != nil {
				return err
			}
			los = append(los, lo)
		}
		q.Where("code / 100 * 100 IN (?)", bun.List(los))
	}
	if f.Outcome != nil {
		if *f.Outcome == model.RequestOutcomeSuccess {
			q.Where("code < 400")
		} else {
			q.Where("code >= 400")
		}
	}
	if len(f.GatewayCodes) > 0 {
		q.Where("gateway_code IN (?)", bun.List(f.GatewayCodes))
	}
	if len(f.Clients) > 0 {
		q.Where("client_id IN (SELECT id FROM api_clients WHERE workspace_id = ? AND name IN (?))", ws, bun.List(f.Clients))
	}
	if len(f.Collections) > 0 {
		q.Where("collection_id IN (SELECT id FROM api_collections WHERE workspace_id = ? AND name IN (?))", ws, bun.List(f.Collections))
	}
	if f.CollectionType != nil {
		q.Where("collection_id IN (SELECT id FROM api_collections WHERE workspace_id = ? AND type = ?)", ws, string(*f.CollectionType))
	}
	if len(f.Endpoints) > 0 {
		q.Where("endpoint IN (?)", bun.List(f.Endpoints))
	}
	if len(f.IPs) > 0 {
		prefixes, err := model.ParseIPs(f.IPs)
		if err != nil {
			return err
		}
		texts := make([]string, len(prefixes))
		for i, p := range prefixes {
			texts[i] = p.String()
		}
		q.Where("ip <<= ANY(?::inet[])", pgArray(texts))
	}
	if err := model.ValidateRange("minTimingMs", f.MinTimingMs, "maxTimingMs", f.MaxTimingMs, 0); err != nil {
		return err
	}
	if f.MinTimingMs != nil {
		q.Where("timing_ms >= ?", *f.MinTimingMs)
	}
	if f.MaxTimingMs != nil {
		q.Where("timing_ms <= ?", *f.MaxTimingMs)
	}
	kindOf(model.KindAPIRequest).whereSearch(q, f.Search)
	return kindOf(model.KindAPIRequest).whereTrace(q, "traceIds", f.TraceIDs)
}

func filterIntegration(q *bun.SelectQuery, f *model.IntegrationLogFilter) error {
	if f == nil {
		return nil
	}
	if err := timeFilter(q, "created_at", f.Time); err != nil {
		return err
	}
	if len(f.IntegrationIDs) > 0 {
		ids, err := model.ParseUUIDs("integrationIds", f.IntegrationIDs)
		if err != nil {
			return err
		}
		q.Where("integration_id IN (?)", bun.List(ids))
	}
	if len(f.JobIDs) > 0 {
		ids, err := model.ParseUUIDs("jobIds", f.JobIDs)
		if err != nil {
			return err
		}
		q.Where("job_id IN (?)", bun.List(ids))
	}
	if f.Succeeded != nil {
		q.Where("succeeded = ?", *f.Succeeded)
	}
	if len(f.StatusCodes) > 0 {
		q.Where("status_code IN (?)", bun.List(f.StatusCodes))
	}
	if f.MinAttempt != nil {
		if *f.MinAttempt < 1 {
			return model.InputErrorf("minAttempt: %d is below 1", *f.MinAttempt)
		}
		q.Where("attempt >= ?", *f.MinAttempt)
	}
	kindOf(model.KindIntegration).whereSearch(q, f.Search)
	return nil
}

func filterAction(q *bun.SelectQuery, f *model.ActionLogFilter) error {
	if f == nil {
		return nil
	}
	if err := timeFilter(q, "created_at", f.Time); err != nil {
		return err
	}
	if err := model.ValidateRange("minLevel", f.MinLevel, "maxLevel", f.MaxLevel, 0); err != nil {
		return err
	}
	if f.MinLevel != nil {
		q.Where("level >= ?", *f.MinLevel)
	}
	if f.MaxLevel != nil {
		q.Where("level <= ?", *f.MaxLevel)
	}
	if len(f.AppNames) > 0 {
		q.Where("app_name IN (?)", bun.List(f.AppNames))
	}
	if len(f.LoggerNames) > 0 {
		q.Where("logger_name IN (?)", bun.List(f.LoggerNames))
	}
	kindOf(model.KindAction).whereSearch(q, f.Search)
	return nil
}

func filterAPIReference(q *bun.SelectQuery, f *model.APIReferenceLogFilter) error {
	if f == nil {
		return nil
	}
	if err := timeFilter(q, "modified_at", f.Time); err != nil {
		return err
	}
	if len(f.APIReferenceIDs) > 0 {
		q.Where("api_reference_id IN (?)", bun.List(f.APIReferenceIDs))
	}
	if len(f.UserIDs) > 0 {
		q.Where("user_id IN (?)", bun.List(f.UserIDs))
	}
	if f.HasErrors != nil {
		q.Where("(error_count > 0) = ?", *f.HasErrors)
	}
	if f.HasAlerts != nil {
		q.Where("(alerts_count > 0) = ?", *f.HasAlerts)
	}
	kindOf(model.KindAPIReference).whereSearch(q, f.Search)
	return nil
}

// pgArray renders a text[] literal for values bound as one parameter.
func pgArray(vals []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(v))
	}
	b.WriteByte('}')
	return b.String()
}

// kindQuery starts a select of kind's table (alias t) in workspace ws with the
// kind's filter; with dest, rows scan into dest (a pointer to a slice of models).
func (s *LogStore) kindQuery(ws uuid.UUID, kind model.LogKind, filter any, dest any) (*bun.SelectQuery, error) {
	return s.boundKindQuery(nil, ws, kind, filter, dest)
}

// boundKindQuery is kindQuery with the workspace bound as a parameter of ps.
func (s *LogStore) boundKindQuery(ps *params, ws uuid.UUID, kind model.LogKind, filter any, dest any) (*bun.SelectQuery, error) {
	q := s.db.NewSelect()
	if dest != nil {
		q.Model(dest).ModelTableExpr("? AS t", bun.Ident(kind.Table()))
	} else {
		q.TableExpr("? AS t", bun.Ident(kind.Table()))
	}
	q.Where("t.workspace_id = ?", ps.value(ws))
	// Every string of the filter, before any of it reaches SQL (a NUL is the
	// caller's mistake, not a failed statement).
	if err := model.ValidateFilter(filter); err != nil {
		return q, err
	}
	ki := kindOf(kind)
	if ki == nil {
		return q, fmt.Errorf("no filter for kind %q", kind)
	}
	return q, ki.filter.apply(q, ws, filter)
}

// List reads one page of a kind's logs into dest in list order (newest first;
// oldest first for backward pages) and tells whether more follow in that order.
// dest is a pointer to a slice of the kind's model pointers.
func (s *LogStore) List(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any, p model.Page, dest any) (more bool, err error) {
	q, err := s.kindQuery(ws, kind, filter, dest)
	if err != nil {
		return false, err
	}
	if err := keyset(q, kind.TimeColumn(), idType(kind), p); err != nil {
		return false, err
	}
	if err := q.ColumnExpr("t.*").Scan(ctx); err != nil {
		return false, fmt.Errorf("list %s: %w", kind.Table(), err)
	}
	return cutPage(dest, p), nil
}

// Count counts a kind's logs matching filter: from log_counts when the filter only
// uses the dimensions kept there (exact, and cheap whatever the row count), else
// by counting the rows.
func (s *LogStore) Count(ctx context.Context, ws uuid.UUID, kind model.LogKind, filter any) (int, error) {
	if n, ok, err := s.countFromRollup(ctx, ws, kind, filter); ok || err != nil {
		return n, err
	}
	q, err := s.kindQuery(ws, kind, filter, nil)
	if err != nil {
		return 0, err
	}
	var n int
	if err := q.ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
		return 0, fmt.Errorf("count %s: %w", kind.Table(), err)
	}
	return n, nil
}
