package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/loggraph/loggraph/model"
)

// MaxFacetValues is the most values one facet lists. It is also why facets need no
// group guardrail of their own: the statement returns at most this many groups
// per asked field (first is capped here), so more than 1,000 groups per answer
// cannot happen by construction, however many distinct values the window holds.
const MaxFacetValues = 1000

// facetDim is one column a kind's facets group by, and the facet fields it answers.
type facetDim struct {
	// col is the grouped column of the kind's table (alias t).
	col string
	// name, when set, is the entity table whose name the grouped id stands for
	// (joined on the workspace and the id after grouping, so once per group, not
	// per row).
	name string
	// severity turns the grouped number into the severity's name.
	severity bool
	// fields are the facet fields this column answers (SOURCE shares the column of
	// the kind's own field).
	fields []model.LogFacetField
}

// facetDims lists the columns of kind k that facet fields can group by. SOURCE
// follows the common Log source: app service, request collection name,
// integration name, action logger name, API reference name.
func facetDims(k model.LogKind) []facetDim {
	ki := kindOf(k)
	if ki == nil {
		return nil
	}
	sev := facetDim{col: ki.severity, severity: true, fields: []model.LogFacetField{model.LogFacetFieldSeverity}}
	return append([]facetDim{sev}, ki.facets...)
}

// fieldStrings renders facet fields as text for an SQL array.
func fieldStrings(fs []model.LogFacetField) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

// Facets answers, for each field (in the given order, duplicates dropped), the
// first most frequent values among the filter's logs in [from, to), ordered by
// count descending then value ascending (byte order), and OtherCount: the logs with
// any other non-null value.
//
// A log counts in a facet only if it has the field: SERVICE counts app logs only,
// CODE requests only, and a log whose value is null (a request without a client,
// an integration or API reference without a name) counts in neither the values nor
// OtherCount. Entities are grouped by name, so two integrations of the same name
// are one value.
//
// One statement answers every field: each kind's rows are read once and grouped by
// GROUPING SETS (one set per column the asked fields need, plus the empty set for
// KIND), ids are turned into names after grouping, the kinds' groups are summed per
// (field, value), and a window function keeps the top first values of each field
// with the field's total.
func (s *LogStore) Facets(ctx context.Context, ws uuid.UUID, f *model.LogFilter, from, to time.Time,
	fields []model.LogFacetField, first int) ([]model.Facet, error) {
	if first < 1 || first > MaxFacetValues {
		return nil, model.InputErrorf("first: %d is not between 1 and %d", first, MaxFacetValues)
	}
	var asked []model.LogFacetField
	for _, fl := range fields {
		if !slices.Contains(asked, fl) {
			asked = append(asked, fl)
		}
	}
	out := make([]model.Facet, len(asked))
	at := make(map[model.LogFacetField]int, len(asked))
	for i, fl := range asked {
		out[i] = model.Facet{Field: fl, Values: []model.FacetValue{}}
		at[fl] = i
	}
	if !from.Before(to) { // an empty window: nothing to count (and the filter would refuse it)
		return out, nil
	}
	bf := boundedFilter(f, from, to)
	if err := bf.Validate(); err != nil {
		return nil, err
	}
	plan := AnalyticsPlan{Query: "facets", Rollup: true}
	var union *bun.SelectQuery
	for _, k := range logKinds(bf) {
		branch, refusal, err := s.facetBranch(ws, k, f, from, to, asked, false)
		if err != nil {
			return nil, err
		}
		if branch == nil {
			continue
		}
		if refusal != "" && plan.Rollup {
			plan.Rollup, plan.Reason = false, refusal
		}
		union = unionAll(union, branch)
	}
	if union == nil { // no selected kind has any asked field
		return out, nil
	}
	if s.cache != nil {
		if !plan.Rollup {
			plan.Cache = &AnalyticsCacheUse{Bypass: "only facets answered from the rollups are cached"}
		} else {
			counts, err := s.cachedFacets(ctx, ws, f, from, to, asked, &plan)
			noteAnalyticsPlan(ctx, plan)
			if err != nil {
				return nil, err
			}
			rankFacets(out, at, counts, first)
			return out, nil
		}
	}
	noteAnalyticsPlan(ctx, plan)
	summed := s.db.NewSelect().
		TableExpr("(?) AS b", union).
		Join("CROSS JOIN LATERAL unnest(b.fields) AS f(field)").
		ColumnExpr("f.field, b.value, sum(b.n)::bigint AS n").
		Where("b.value IS NOT NULL").
		GroupExpr("f.field, b.value")
	ranked := s.db.NewSelect().
		TableExpr("(?) AS c", summed).
		ColumnExpr("c.field, c.value, c.n").
		ColumnExpr(`row_number() OVER (PARTITION BY c.field ORDER BY c.n DESC, c.value COLLATE "C") AS rn`).
		ColumnExpr("sum(c.n) OVER (PARTITION BY c.field)::bigint AS total")
	var rows []struct {
		Field model.LogFacetField `bun:"field"`
		Value string              `bun:"value"`
		N     int                 `bun:"n"`
		Total int                 `bun:"total"`
	}
	err := s.db.NewSelect().
		TableExpr("(?) AS r", ranked).
		Column("field", "value", "n", "total").
		Where("r.rn <= ?", first).
		OrderExpr("r.field, r.rn").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("log facets: %w", err)
	}
	for _, r := range rows {
		i, ok := at[r.Field]
		if !ok {
			continue
		}
		fc := &out[i]
		if len(fc.Values) == 0 {
			fc.OtherCount = r.Total
		}
		fc.Values = append(fc.Values, model.FacetValue{Value: r.Value, Count: r.N})
		fc.OtherCount -= r.N
	}
	return out, nil
}

// facetBranch is kind k's part of Facets over [from, to): (fields, value, n) rows,
// one per group of each grouping set, or nil when the kind has none of the asked
// fields. When the asked fields are the severity and the source, log_rollups answers
// the window's whole slots (facetRows); otherwise refusal says why the rows were read.
func (s *LogStore) facetBranch(ws uuid.UUID, k model.LogKind, f *model.LogFilter, from, to time.Time,
	asked []model.LogFacetField, bySlot bool) (_ *bun.SelectQuery, refusal string, _ error) {
	type use struct {
		dim    facetDim
		fields []string
	}
	var uses []use
	for _, d := range facetDims(k) {
		var fs []model.LogFacetField
		for _, fl := range d.fields {
			if slices.Contains(asked, fl) {
				fs = append(fs, fl)
			}
		}
		if len(fs) > 0 {
			uses = append(uses, use{d, fieldStrings(fs)})
		}
	}
	kind := slices.Contains(asked, model.LogFacetFieldKind)
	if len(uses) == 0 && !kind {
		return nil, "", nil
	}
	ki := kindOf(k)
	for _, u := range uses {
		if u.dim.col != ki.severity && u.dim.col != ki.source {
			refusal = fmt.Sprintf("%s is not kept in the rollup", strings.Join(u.fields, ", "))
			break
		}
	}
	lo, hi, spanned := wholeSlots(from, to)
	switch r := rollupRefusal(f); {
	case s.rowsOnly:
		refusal = "rollups off"
	case refusal != "":
	case r != "":
		refusal = "the filter sets " + r + ", which only the rows can answer"
	case !spanned:
		refusal = "the window holds no whole 15-minute slot"
	}

	inner := s.db.NewSelect()
	count := "count(*)"
	// slot is the 15-minute UTC slot of each row, when bySlot (the analytics cache
	// keeps the counts per slot): in every grouping set.
	slot, slotCol := "", ""
	if refusal != "" {
		inner.TableExpr("? AS t", bun.Ident(k.Table())).Where("t.workspace_id = ?", ws)
		if err := filterCommon(inner, ws, k, boundedFilter(f, from, to)); err != nil {
			return nil, "", err
		}
		if bySlot {
			slot = `date_bin('15 minutes', t."` + k.TimeColumn() + `", 'epoch')` // a constant column name
		}
	} else {
		bySource := false
		for _, u := range uses {
			bySource = bySource || u.dim.col == ki.source
		}
		rows, err := s.facetRows(ws, k, f, from, to, lo, hi, bySource)
		if err != nil {
			return nil, "", err
		}
		inner.TableExpr("(?) AS t", rows)
		count = "sum(t.n)"
		if bySlot {
			slot = "t.slot"
		}
	}
	if slot != "" {
		slotCol = slot + ", "
		inner.ColumnExpr(slot + " AS slot")
	}
	// GROUPING(c0, ..., cm-1) has bit m-1-i set when column i is not in the row's
	// grouping set: a row of set (ci) has every bit but that one, the empty set's
	// row (KIND) has all of them.
	m := len(uses)
	full := 1<<m - 1
	cols := make([]string, m)
	sets := make([]string, m)
	for i, u := range uses {
		cols[i] = "t." + u.dim.col // a constant of facetDims, never user text
		sets[i] = "(" + slotCol + cols[i] + ")"
	}
	if kind {
		sets = append(sets, "("+strings.TrimSuffix(slotCol, ", ")+")")
	}
	if m == 0 {
		inner.ColumnExpr("0 AS g, " + count + " AS n")
		if slot != "" {
			inner.GroupExpr(slot)
		}
	} else {
		inner.ColumnExpr("GROUPING(" + strings.Join(cols, ", ") + ") AS g")
		for i, c := range cols {
			inner.ColumnExpr(c+" AS ?", bun.Ident(fmt.Sprintf("d%d", i)))
		}
		inner.ColumnExpr(count + " AS n").GroupExpr("GROUPING SETS (" + strings.Join(sets, ", ") + ")")
	}
	// The empty set of a kind with no matching row still yields a count of 0.
	inner.Having(count + " > 0")

	branch := s.db.NewSelect().TableExpr("(?) AS a", inner)
	var fieldsCase, valueCase strings.Builder
	var fieldArgs, valueArgs []any
	fieldsCase.WriteString("CASE a.g")
	valueCase.WriteString("CASE a.g")
	for i, u := range uses {
		mask := full &^ (1 << (m - 1 - i))
		d := fmt.Sprintf("a.d%d", i)
		var value string
		switch {
		case u.dim.severity:
			value = "(ARRAY[?]::text[])[" + d + "]"
			valueArgs = append(valueArgs, bun.List(severityNames()))
		case u.dim.name != "":
			alias := fmt.Sprintf("n%d", i)
			branch.Join("LEFT JOIN ? AS ? ON ?.workspace_id = ? AND ?.id = "+d,
				bun.Ident(u.dim.name), bun.Ident(alias), bun.Ident(alias), ws, bun.Ident(alias))
			value = alias + ".name"
		default:
			value = d + "::text"
		}
		fmt.Fprintf(&fieldsCase, " WHEN %d THEN ARRAY[?]::text[]", mask)
		fieldArgs = append(fieldArgs, bun.List(u.fields))
		fmt.Fprintf(&valueCase, " WHEN %d THEN %s", mask, value)
	}
	if kind {
		fmt.Fprintf(&fieldsCase, " WHEN %d THEN ARRAY[?]::text[]", full)
		fieldArgs = append(fieldArgs, bun.List([]string{string(model.LogFacetFieldKind)}))
		fmt.Fprintf(&valueCase, " WHEN %d THEN ?::text", full)
		valueArgs = append(valueArgs, string(k))
	}
	fieldsCase.WriteString(" END AS fields")
	valueCase.WriteString(" END AS value")
	branch.ColumnExpr(fieldsCase.String(), fieldArgs...).ColumnExpr(valueCase.String(), valueArgs...).ColumnExpr("a.n")
	if slot != "" {
		branch.ColumnExpr("a.slot")
	}
	return branch, refusal, nil
}

// facetRows are kind k's logs of [from, to) that f keeps, as (severity, source, n,
// slot) rows under the kind's own column names: log_rollups for the whole slots [lo, hi)
// (the per-source rows when bySource, else the totals, whose source is NULL), the
// rows, grouped, for the partial slots at the edges.
func (s *LogStore) facetRows(ws uuid.UUID, k model.LogKind, f *model.LogFilter, from, to, lo, hi time.Time, bySource bool) (*bun.SelectQuery, error) {
	ki := kindOf(k)
	sev, src := bun.Ident(ki.severity), bun.Ident(ki.source)
	rows := s.db.NewSelect().TableExpr("log_rollups AS r").
		ColumnExpr("r.severity AS ?, r.source::"+ki.sourceType+" AS ?, r.n, r.slot", sev, src)
	rollupWhere(rows, ws, k, f, lo, hi, bySource)
	for _, edge := range [][2]time.Time{{from, lo}, {hi, to}} {
		if !edge[0].Before(edge[1]) {
			continue
		}
		q := s.db.NewSelect().TableExpr("? AS t", bun.Ident(k.Table())).Where("t.workspace_id = ?", ws).
			ColumnExpr("t.?, t.?, count(*) AS n, date_bin('15 minutes', t.?, 'epoch') AS slot", sev, src, bun.Ident(k.TimeColumn())).
			GroupExpr("1, 2, 4")
		if err := filterCommon(q, ws, k, boundedFilter(f, edge[0], edge[1])); err != nil {
			return nil, err
		}
		rows = rows.UnionAll(q)
	}
	return rows, nil
}

// severityNames lists the severities' names, ascending, so that a stored severity
// number indexes its name (SQL arrays start at 1, as severities do).
func severityNames() []string {
	out := make([]string, len(model.AllSeverities))
	for i, s := range model.AllSeverities {
		out[i] = s.String()
	}
	return out
}
