package db

import (
	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// Ingest writes its request_rollups and log_pattern_rollups rows packed, one
// request_rollup_batches row per grouping and one log_pattern_rollup_batches row per
// batch (migration 20261206100000): the rows as parallel arrays, the slots they cover
// from slot to last_slot. A 12-hour backfill batch of 5,000 API requests has about
// 2,440 request rows and 4,400 pattern rows, and inserting them one by one (each with
// its index entries) took half of the batch's time. Every reader takes the packed
// rows as the table's own: a request batch's rows are pending rows (width 0). The
// compactions consume them; retention and deletions, which recompute some slots from
// the log rows, unpack in the same statement the batches overlapping those slots,
// keeping their rows of the other slots as table rows.

// requestBatchCols are request_rollups' columns as a request_rollup_batches row
// aliased b unnests them (as u, in requestBatchFrom), width last.
const requestBatchCols = `b.workspace_id, u.slot, b.grouping, u.collection_id, u.client_id, u.endpoint, u.code, u.gateway_code,
	u.n, u.errors, u.timing_sum, u.timing_max, u.delay_sum, u.tb::int2[] AS timing_b, u.tn::int4[] AS timing_n,
	u.db::int2[] AS delay_b, u.dn::int4[] AS delay_n, 0::int2 AS width`

// requestBatchFrom is the FROM clause unnesting the request_rollup_batches rows of rel
// (a table or CTE with its columns) as b and u.
func requestBatchFrom(rel string) string {
	return rel + ` AS b CROSS JOIN LATERAL unnest(b.slots, b.collection_id, b.client_id, b.endpoint, b.code, b.gateway_code,
		b.n, b.errors, b.timing_sum, b.timing_max, b.delay_sum, b.timing_b, b.timing_n, b.delay_b, b.delay_n)
		AS u(slot, collection_id, client_id, endpoint, code, gateway_code, n, errors, timing_sum, timing_max, delay_sum, tb, tn, db, dn)`
}

// requestRollupCols are request_rollups' columns in requestBatchCols' order.
const requestRollupCols = `workspace_id, slot, grouping, collection_id, client_id, endpoint, code, gateway_code,
	n, errors, timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n, width`

// requestRollupsWithBatches is request_rollups with the packed rows of the batches
// matching batchWhere (a condition over request_rollup_batches AS b; its arguments
// follow), as one relation with request_rollups' columns.
func requestRollupsWithBatches(batchWhere string, args ...any) schema.QueryAppender {
	return bun.SafeQuery(`SELECT `+requestRollupCols+` FROM request_rollups
		UNION ALL SELECT `+requestBatchCols+` FROM `+requestBatchFrom("request_rollup_batches")+` WHERE `+batchWhere, args...)
}

// requestPendingFrom is the pending request_rollups rows of workspace ws and grouping
// g in the slots [from, to), with the packed rows of the batches overlapping them.
func requestPendingFrom(ws uuid.UUID, g int16, from, to any) schema.QueryAppender {
	return bun.SafeQuery(`SELECT `+requestRollupCols+` FROM request_rollups
			WHERE workspace_id = ? AND grouping = ? AND width = 0 AND slot >= ? AND slot < ?
		UNION ALL SELECT `+requestBatchCols+` FROM `+requestBatchFrom("request_rollup_batches")+`
			WHERE b.workspace_id = ? AND b.grouping = ? AND b.slot < ? AND b.last_slot >= ? AND u.slot >= ? AND u.slot < ?`,
		ws, g, from, to, ws, g, to, from, from, to)
}

// requestBatchesUnpack is the part of a statement (after its WITH) that deletes the
// request_rollup_batches rows matching where (over the table's columns, aliased rb)
// and inserts
// their rows for which keep (over request_rollups' columns, as u.slot) holds as
// pending request_rollups rows: the statement recomputes the others.
func requestBatchesUnpack(where, keep string) string {
	return `requestBatchesGone AS (DELETE FROM request_rollup_batches AS rb WHERE ` + where + ` RETURNING *),
		requestBatchesKept AS (
			INSERT INTO request_rollups (` + requestRollupCols + `)
			SELECT ` + requestBatchCols + ` FROM ` + requestBatchFrom("requestBatchesGone") + ` WHERE ` + keep + `
		)`
}

// patternRollupCols are log_pattern_rollups' columns.
const patternRollupCols = `workspace_id, kind, slot, severity, source, pattern, n, first_seen, last_seen, sample`

// patternBatchRows selects log_pattern_rollups' columns from the
// log_pattern_rollup_batches rows of rel (a table or CTE with its columns), as b and
// u.
func patternBatchRows(rel string) string {
	return `SELECT b.workspace_id, b.kind, u.slot, u.severity, u.source, u.pattern, u.n, u.first_seen, u.last_seen, u.sample
		FROM ` + patternBatchFrom(rel)
}

// patternBatchFrom is the FROM clause unnesting the log_pattern_rollup_batches rows
// of rel as b and u.
func patternBatchFrom(rel string) string {
	return rel + ` AS b CROSS JOIN LATERAL unnest(b.slots, b.severity, b.source, b.pattern, b.n, b.first_seen, b.last_seen, b.sample)
			AS u(slot, severity, source, pattern, n, first_seen, last_seen, sample)`
}

// patternRollupFrom is kind k's log_pattern_rollups rows of width w (pending: 0) of
// workspace ws in the slots [lo, hi), with the packed rows of the batches
// overlapping them when w is 0 (they are pending too).
func patternRollupFrom(ws uuid.UUID, k string, w int16, lo, hi any) schema.QueryAppender {
	rows := bun.SafeQuery(`SELECT `+patternRollupCols+` FROM log_pattern_rollups
			WHERE workspace_id = ? AND kind = ? AND width = ? AND slot >= ? AND slot < ?`, ws, k, w, lo, hi)
	if w != patternPending {
		return rows
	}
	return bun.SafeQuery(`? UNION ALL `+patternBatchRows("log_pattern_rollup_batches")+`
			WHERE b.workspace_id = ? AND b.kind = ? AND b.slot < ? AND b.last_slot >= ? AND u.slot >= ? AND u.slot < ?`,
		rows, ws, k, hi, lo, lo, hi)
}

// patternBatchesUnpack is requestBatchesUnpack for log_pattern_rollup_batches: where
// over its columns (aliased pb), keep over the unnested rows (u).
func patternBatchesUnpack(where, keep string) string {
	return `patternBatchesGone AS (DELETE FROM log_pattern_rollup_batches AS pb WHERE ` + where + ` RETURNING *),
		patternBatchesKept AS (
			INSERT INTO log_pattern_rollups (` + patternRollupCols + `)
			` + patternBatchRows("patternBatchesGone") + ` WHERE ` + keep + `
		)`
}

// overlapSQL is a condition over a batch table's columns: its slots overlap
// [lo, hi) (SQL expressions).
func overlapSQL(lo, hi string) string { return "slot < " + hi + " AND last_slot >= " + lo }
