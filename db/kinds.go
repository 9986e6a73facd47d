package db

import (
	"context"
	"fmt"
	"reflect"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/loggraph/loggraph/model"
)

// kindInfo is what the stores know about one kind of log, written once: lists,
// counts, the cross-kind queries, context, facets, patterns, exports and the
// rollup read it from kinds. (The table and time column are model.LogKind's.)
type kindInfo struct {
	kind model.LogKind
	// idType is the SQL type of the id, for binding ids and cursors.
	idType string
	// severity is the column holding the common severity.
	severity string
	// search are the text columns a search ILIKEs (any of them matches).
	search []string
	// traced: the kind's logs carry W3C trace and span ids (trace_id, span_id).
	traced bool
	// source is the column naming the common Log source and, when the source is an
	// entity, the entity table whose name it is (sourceSQL gives the name's SQL).
	source, sourceEntity string
	// sourceType is the SQL type of the source column (log_rollups keeps it as text),
	// and sourceAt record i's value of it as that text, at ingest.
	sourceType string
	sourceAt   func(w *batchWriter, i int) string
	// gqlType is the GraphQL object type of the kind's logs; sourceField, when the
	// source is an entity, is the logs' GraphQL field that resolves the same entity.
	gqlType, sourceField string
	// facets are the columns facets group by, besides the severity.
	facets []facetDim
	// message is the SQL of the kind's Message() on alias t.
	message schema.QueryAppender
	// rollup are the kind's dimensions kept in log_counts (besides the day).
	rollup []string
	// filter describes the kind's filter struct.
	filter filterSpec

	// newLog returns an empty log of the kind.
	newLog func() model.Log
	// list reads one page of the kind into logs (List with the kind's slice type).
	list func(ctx context.Context, s *LogStore, ws uuid.UUID, filter any, p model.Page) ([]model.Log, bool, error)
	// contextOf is the column and value of a log whose logs make its context.
	contextOf func(model.Log) (col string, val any)
	// countKey sets a log's dimensions of rollup in k.
	countKey func(l model.Log, k *countKey)
	// entities sets the entities the export rows' logs refer to (nil: none).
	entities func(ctx context.Context, es *EntityStore, ws uuid.UUID, rows []ExportRow) error

	// Ingest: record i's log and what the client sent of it, the columns COPY
	// writes, record i's values of them, and what creates the entities a batch
	// names before its rows are written (nil: none).
	record       func(b *model.Batch, i int) (model.Log, model.RecordMeta)
	copyColumns  []string
	copyRow      func(w *batchWriter, i int) ([]any, error)
	syncEntities func(w *batchWriter, ctx context.Context, tx pgx.Tx) error
}

// kinds describes every kind of model.AllKinds (set in init: the filters it
// names read it).
var kinds map[model.LogKind]*kindInfo

func init() {
	kinds = map[model.LogKind]*kindInfo{
		model.KindApp: {
			gqlType: "AppLog",
			idType:  "uuid", severity: "level", search: []string{"message"}, source: "service", traced: true,
			sourceType: "text", sourceAt: func(w *batchWriter, i int) string { return w.b.App[i].Log.Service },
			facets:  []facetDim{{col: "service", fields: []model.LogFacetField{model.LogFacetFieldSource, model.LogFacetFieldService}}},
			message: bun.SafeQuery("t.message"),
			rollup:  []string{"level", "service"},
			filter: filterOf(func(q *bun.SelectQuery, _ uuid.UUID, f *model.AppLogFilter) error { return filterApp(q, f) },
				map[string]filterField{
					"Time": {"time", fieldWindow}, "Levels": {"levels", fieldRollup}, "MinLevel": {"minLevel", fieldRollup},
					"Services": {"services", fieldRollup}, "Search": {"search", fieldRows}, "Details": {"details", fieldRows},
					"TraceIDs": {"traceIds", fieldRows},
				}),
			newLog: func() model.Log { return new(model.AppLog) },
			list:   listAs[*model.AppLog],
			contextOf: func(l model.Log) (string, any) {
				return "service", l.(*model.AppLog).Service
			},
			countKey: func(l model.Log, k *countKey) {
				x := l.(*model.AppLog)
				lv := int16(x.Level)
				k.level, k.service = &lv, &x.Service
			},
			record: func(b *model.Batch, i int) (model.Log, model.RecordMeta) {
				r := &b.App[i]
				return &r.Log, r.RecordMeta
			},
			copyColumns: []string{"workspace_id", "id", "timestamp", "level", "service", "message", "details", "trace_id", "span_id", "batch_id"},
			copyRow:     appRow,
		},
		model.KindAPIRequest: {
			gqlType: "ApiRequestLog", sourceField: "collection",
			idType: "uuid", severity: "severity", search: []string{"endpoint", "status_details"}, traced: true,
			source: "collection_id", sourceEntity: "api_collections", sourceType: "bigint",
			sourceAt: func(w *batchWriter, i int) string {
				return strconv.FormatInt(w.collectionIDs[w.b.APIRequest[i].Collection], 10)
			},
			facets: []facetDim{
				{col: "collection_id", name: "api_collections", fields: []model.LogFacetField{model.LogFacetFieldSource, model.LogFacetFieldCollection}},
				{col: "client_id", name: "api_clients", fields: []model.LogFacetField{model.LogFacetFieldClient}},
				{col: "code", fields: []model.LogFacetField{model.LogFacetFieldCode}},
				{col: "endpoint", fields: []model.LogFacetField{model.LogFacetFieldEndpoint}}},
			message: bun.SafeQuery("t.code::text || ' ' || coalesce((?::text[])[t.code], '') || ' ' || t.endpoint", statusTexts),
			filter: filterOf(filterAPIRequest,
				map[string]filterField{
					"Time": {"time", fieldWindow}, "Codes": {"codes", fieldRows}, "CodeClasses": {"codeClasses", fieldRows},
					"Outcome": {"outcome", fieldRows}, "GatewayCodes": {"gatewayCodes", fieldRows}, "Clients": {"clients", fieldRows},
					"Collections": {"collections", fieldRows}, "CollectionType": {"collectionType", fieldRows}, "Endpoints": {"endpoints", fieldRows},
					"IPs": {"ips", fieldRows}, "MinTimingMs": {"minTimingMs", fieldRows}, "MaxTimingMs": {"maxTimingMs", fieldRows},
					"Search": {"search", fieldRows}, "TraceIDs": {"traceIds", fieldRows},
				}),
			newLog: func() model.Log { return new(model.APIRequestLog) },
			list:   listAs[*model.APIRequestLog],
			contextOf: func(l model.Log) (string, any) {
				return "collection_id", l.(*model.APIRequestLog).CollectionID
			},
			countKey: func(model.Log, *countKey) {},
			entities: requestEntities,
			record: func(b *model.Batch, i int) (model.Log, model.RecordMeta) {
				r := &b.APIRequest[i]
				return &r.Log, r.RecordMeta
			},
			copyColumns: []string{"workspace_id", "id", "received_at", "code", "gateway_code", "status_details", "ip",
				"timing_ms", "delay_ms", "collection_id", "client_id", "endpoint", "job_url", "trace_id", "span_id", "batch_id"},
			copyRow:      requestRow,
			syncEntities: (*batchWriter).syncCollectionsAndClients,
		},
		model.KindIntegration: {
			gqlType: "IntegrationLog", sourceField: "integration",
			idType: "uuid", severity: "severity", search: []string{"error_detail", "body"},
			source: "integration_id", sourceEntity: "integrations", sourceType: "uuid",
			sourceAt: func(w *batchWriter, i int) string { return w.b.Integration[i].Log.IntegrationID.String() },
			facets:   []facetDim{{col: "integration_id", name: "integrations", fields: []model.LogFacetField{model.LogFacetFieldSource, model.LogFacetFieldIntegration}}},
			message:  bun.SafeQuery("coalesce(t.error_detail, t.body, '')"),
			rollup:   []string{"integration_id"},
			// A job's few rows are counted through its index, not the rollup.
			filter: filterOf(func(q *bun.SelectQuery, _ uuid.UUID, f *model.IntegrationLogFilter) error {
				return filterIntegration(q, f)
			},
				map[string]filterField{
					"Time": {"time", fieldWindow}, "IntegrationIDs": {"integrationIds", fieldRollup}, "JobIDs": {"jobIds", fieldRows},
					"Succeeded": {"succeeded", fieldRows}, "StatusCodes": {"statusCodes", fieldRows}, "MinAttempt": {"minAttempt", fieldRows},
					"Search": {"search", fieldRows},
				}),
			newLog: func() model.Log { return new(model.IntegrationLog) },
			list:   listAs[*model.IntegrationLog],
			contextOf: func(l model.Log) (string, any) {
				x := l.(*model.IntegrationLog)
				if x.JobID != nil {
					return "job_id", *x.JobID
				}
				// A delivery outside any job has only its integration to belong to.
				return "integration_id", x.IntegrationID
			},
			countKey: func(l model.Log, k *countKey) { k.integrationID = &l.(*model.IntegrationLog).IntegrationID },
			entities: integrationEntities,
			record: func(b *model.Batch, i int) (model.Log, model.RecordMeta) {
				r := &b.Integration[i]
				return &r.Log, r.RecordMeta
			},
			copyColumns: []string{"workspace_id", "id", "created_at", "integration_id", "job_id", "succeeded", "attempt",
				"body", "status_code", "error_detail", "batch_id"},
			copyRow:      integrationRow,
			syncEntities: (*batchWriter).syncIntegrations,
		},
		model.KindAction: {
			gqlType: "ActionLog",
			idType:  "bigint", severity: "severity", search: []string{"message"}, source: "logger_name",
			sourceType: "text", sourceAt: func(w *batchWriter, i int) string { return w.b.Action[i].Log.LoggerName },
			facets: []facetDim{
				{col: "logger_name", fields: []model.LogFacetField{model.LogFacetFieldSource, model.LogFacetFieldLoggerName}},
				{col: "app_name", fields: []model.LogFacetField{model.LogFacetFieldAppName}}},
			message: bun.SafeQuery("t.message"),
			rollup:  []string{"level"},
			filter: filterOf(func(q *bun.SelectQuery, _ uuid.UUID, f *model.ActionLogFilter) error { return filterAction(q, f) },
				map[string]filterField{
					"Time": {"time", fieldWindow}, "MinLevel": {"minLevel", fieldRollup}, "MaxLevel": {"maxLevel", fieldRollup},
					"AppNames": {"appNames", fieldRows}, "LoggerNames": {"loggerNames", fieldRows}, "Search": {"search", fieldRows},
				}),
			newLog: func() model.Log { return new(model.ActionLog) },
			list:   listAs[*model.ActionLog],
			contextOf: func(l model.Log) (string, any) {
				return "logger_name", l.(*model.ActionLog).LoggerName
			},
			countKey: func(l model.Log, k *countKey) {
				lv := int16(l.(*model.ActionLog).Level)
				k.level = &lv
			},
			record: func(b *model.Batch, i int) (model.Log, model.RecordMeta) {
				r := &b.Action[i]
				return &r.Log, r.RecordMeta
			},
			copyColumns: []string{"workspace_id", "id", "created_at", "level", "logger_name", "message", "app_name", "trace", "batch_id"},
			copyRow:     actionRow,
		},
		model.KindAPIReference: {
			gqlType: "ApiReferenceLog", sourceField: "apiReference",
			idType: "text", severity: "severity", search: []string{"title"},
			source: "api_reference_id", sourceEntity: "api_references", sourceType: "text",
			sourceAt: func(w *batchWriter, i int) string { return w.b.APIReference[i].Log.APIReferenceID },
			facets: []facetDim{
				{col: "api_reference_id", name: "api_references", fields: []model.LogFacetField{model.LogFacetFieldSource}},
				{col: "user_id", name: "team_accounts", fields: []model.LogFacetField{model.LogFacetFieldUser}}},
			message: bun.SafeQuery("t.title"),
			rollup:  []string{"api_reference_id"},
			filter: filterOf(func(q *bun.SelectQuery, _ uuid.UUID, f *model.APIReferenceLogFilter) error {
				return filterAPIReference(q, f)
			},
				map[string]filterField{
					"Time": {"time", fieldWindow}, "APIReferenceIDs": {"apiReferenceIds", fieldRollup}, "UserIDs": {"userIds", fieldRows},
					"HasErrors": {"hasErrors", fieldRows}, "HasAlerts": {"hasAlerts", fieldRows}, "Search": {"search", fieldRows},
				}),
			newLog: func() model.Log { return new(model.APIReferenceLog) },
			list:   listAs[*model.APIReferenceLog],
			contextOf: func(l model.Log) (string, any) {
				return "api_reference_id", l.(*model.APIReferenceLog).APIReferenceID
			},
			countKey: func(l model.Log, k *countKey) { k.referenceID = &l.(*model.APIReferenceLog).APIReferenceID },
			entities: referenceEntities,
			record: func(b *model.Batch, i int) (model.Log, model.RecordMeta) {
				r := &b.APIReference[i]
				return &r.Log, r.RecordMeta
			},
			copyColumns: []string{"workspace_id", "id", "modified_at", "api_reference_id", "user_id", "title",
				"error_count", "alerts_count", "errors", "alerts", "batch_id"},
			copyRow:      referenceRow,
			syncEntities: (*batchWriter).syncReferencesAndUsers,
		},
	}
	for k, ki := range kinds {
		ki.kind = k
	}
}

// kindOf describes kind k (nil for an unknown kind).
func kindOf(k model.LogKind) *kindInfo { return kinds[k] }

// idType is the SQL type of a kind's id, for binding cursor ids.
func idType(k model.LogKind) string {
	if ki := kindOf(k); ki != nil {
		return ki.idType
	}
	return "uuid"
}

// severityExpr is the column holding a kind's common severity.
func severityExpr(k model.LogKind) string { return kindOf(k).severity }

// GraphQLType is the GraphQL object type of kind k's logs.
func GraphQLType(k model.LogKind) string {
	if ki := kindOf(k); ki != nil {
		return ki.gqlType
	}
	return ""
}

// SourceField is the GraphQL field of kind k's logs that resolves the entity their
// source names ("" when the source is a column of the log itself).
func SourceField(k model.LogKind) string {
	if ki := kindOf(k); ki != nil {
		return ki.sourceField
	}
	return ""
}

// NewLog returns an empty log of kind k, or nil for an unknown kind.
func NewLog(k model.LogKind) model.Log {
	if ki := kindOf(k); ki != nil {
		return ki.newLog()
	}
	return nil
}

// NewFilter returns an empty filter of kind k (a pointer to the kind's filter
// struct, the one GraphQL binds the kind's filter input to) and its settable
// fields by their names in that input; nil for an unknown kind.
func NewFilter(k model.LogKind) (filter any, fields map[string]reflect.Value) {
	ki := kindOf(k)
	if ki == nil {
		return nil, nil
	}
	v := reflect.New(ki.filter.typ)
	fields = make(map[string]reflect.Value, len(ki.filter.fields))
	for name, f := range ki.filter.fields {
		fields[f.input] = v.Elem().FieldByName(name)
	}
	return v.Interface(), fields
}

// sourceSQL is the SQL of the kind's source name on alias t, and the join it needs
// (the entity as alias e).
func (ki *kindInfo) sourceSQL() (expr, join string) {
	if ki.sourceEntity == "" {
		return "t." + ki.source, ""
	}
	return "e.name", "LEFT JOIN " + ki.sourceEntity + " e ON e.workspace_id = t.workspace_id AND e.id = t." + ki.source
}

// whereSource restricts q to the logs whose source is named one of names.
// (Column and table names are constants of kinds, never user text.)
func (ki *kindInfo) whereSource(q *bun.SelectQuery, ws uuid.UUID, names []string) {
	ki.whereSourceIn(q, ki.source, "id", ws, names)
}

// whereRollupSource is whereSource on log_rollups (alias r), whose source is text.
func (ki *kindInfo) whereRollupSource(q *bun.SelectQuery, ws uuid.UUID, names []string) {
	ki.whereSourceIn(q, "r.source", "id::text", ws, names)
}

// whereSourceIn restricts column col to the sources named one of names; an entity's
// id is read as idExpr.
func (ki *kindInfo) whereSourceIn(q *bun.SelectQuery, col, idExpr string, ws uuid.UUID, names []string) {
	if ki.sourceEntity == "" {
		q.Where(col+" IN (?)", bun.List(names))
		return
	}
	q.Where(col+" IN (SELECT "+idExpr+" FROM "+ki.sourceEntity+" WHERE workspace_id = ? AND name IN (?))", ws, bun.List(names))
}

// whereSearch restricts q to the logs one of whose search columns contains text
// (nil or empty: no restriction).
func (ki *kindInfo) whereSearch(q *bun.SelectQuery, text *string) {
	if text == nil || *text == "" {
		return
	}
	p := likePattern(*text)
	if len(ki.search) == 1 {
		q.Where(ki.search[0]+" ILIKE ?", p)
		return
	}
	var expr string
	args := make([]any, len(ki.search))
	for i, c := range ki.search {
		if i > 0 {
			expr += " OR "
		}
		expr += c + " ILIKE ?"
		args[i] = p
	}
	q.Where("("+expr+")", args...)
}

// whereTrace restricts q to the logs of the traces ids (none: no restriction); a
// kind without trace ids has no log of any trace.
func (ki *kindInfo) whereTrace(q *bun.SelectQuery, field string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	traces, err := model.ParseTraceIDs(field, ids)
	if err != nil {
		return err
	}
	if !ki.traced {
		q.Where("FALSE")
		return nil
	}
	hexes := make([]string, len(traces))
	for i, t := range traces {
		hexes[i] = t.String() // PostgreSQL reads 32 hex digits as a uuid
	}
	q.Where("trace_id IN (?)", bun.List(hexes))
	return nil
}

// fieldUse classifies a filter field for the rollup.
type fieldUse int

const (
	// fieldWindow is the time range: the rollup sums its whole UTC days and counts
	// the rows of its partial ones.
	fieldWindow fieldUse = iota + 1
	// fieldRollup is a dimension log_counts keeps under the same column: the
	// field's clause applies to log_counts as to the rows.
	fieldRollup
	// fieldRows is a field only the rows have: a filter that sets it counts rows.
	fieldRows
)

// filterSpec describes a kind's filter struct: its type, how it becomes WHERE
// clauses, and what the rollup may do with each field (by Go field name).
type filterSpec struct {
	typ    reflect.Type // the struct; filters are pointers to it
	apply  func(q *bun.SelectQuery, ws uuid.UUID, filter any) error
	fields map[string]filterField
}

// filterField is one field of a filter struct: its name in the kind's GraphQL
// filter input (exports' query parameters use the same names) and what the rollup
// may do with it.
type filterField struct {
	input string
	use   fieldUse
}

func filterOf[F any](apply func(q *bun.SelectQuery, ws uuid.UUID, f *F) error, fields map[string]filterField) filterSpec {
	return filterSpec{
		typ: reflect.TypeFor[F](),
		apply: func(q *bun.SelectQuery, ws uuid.UUID, filter any) error {
			f, ok := filter.(*F)
			if !ok {
				return fmt.Errorf("no filter for %T", filter)
			}
			return apply(q, ws, f)
		},
		fields: fields,
	}
}

// withTime copies filter (nil: the empty filter) with another window.
func (fs filterSpec) withTime(filter any, r *model.TimeRange) any {
	c := reflect.New(fs.typ)
	if f, ok := fs.value(filter); ok {
		c.Elem().Set(f)
	}
	c.Elem().FieldByName("Time").Set(reflect.ValueOf(r))
	return c.Interface()
}

// value is the filter struct filter points to (the zero struct for nil), or false
// when filter is not a pointer to the spec's struct.
func (fs filterSpec) value(filter any) (reflect.Value, bool) {
	v := reflect.ValueOf(filter)
	if !v.IsValid() || v.Type() != reflect.PointerTo(fs.typ) {
		return reflect.Value{}, false
	}
	if v.IsNil() {
		return reflect.New(fs.typ).Elem(), true
	}
	return v.Elem(), true
}

// isSet reports whether a filter field restricts anything: a non-nil pointer
// (a *string only when not empty, as searches are read), a non-empty slice, a
// non-nil map.
func isSet(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return false
		}
		if v.Type() == reflect.TypeFor[*string]() {
			return v.Elem().String() != ""
		}
		return true
	case reflect.Slice:
		return v.Len() > 0
	case reflect.Map:
		return !v.IsNil()
	}
	return !v.IsZero()
}
