package db

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"

	"github.com/loggraph/loggraph/model"
)

// log_pattern_rollups keeps, per workspace, kind, 15-minute UTC slot, severity,
// source and message template (model.MessagePattern), what logPatterns reads of
// those logs: their count, first and last time and least sample key (patternRow).
// Every part merges by sum, min and max, so the rows of any set of whole slots give
// today's answer (Patterns). Ingest inserts each batch's rows in its transaction;
// deletions and retention recompute the slots they touched from the rows (a minimum
// cannot be decremented), under patternLockKey.

// patternLockKey is the transaction advisory lock taken by every statement that
// rewrites log_pattern_rollups rows (deletions' recomputes, compaction, rebuilds):
// taken before the statement, it makes each one see the others' results, so two
// rewrites of one slot never both keep their own copy. Ingest only inserts and
// never takes it.
const patternLockKey = 0x6c67706174726e // "lgpatrn"

// patternAgg is one (slot, severity, source, template) group of a batch; sample is
// the log with the least sampleKey, whose key is built once per group.
type patternAgg struct {
	n           int64
	first, last time.Time
	sample      model.Log
}

// sampleLess reports sampleKey(a) < sampleKey(b) for logs of one kind without
// building the keys (two strings per log): the keys are "<kind> <µs> <id>", so they
// order by the decimal µs as text (a shorter one that is a prefix of the other is
// less, as ' ' is below every digit), then by id.
func sampleLess(a, b model.Log) bool {
	ta, tb := a.Time().UnixMicro(), b.Time().UnixMicro()
	if ta != tb {
		var ba, bb [24]byte
		return string(strconv.AppendInt(ba[:0], ta, 10)) < string(strconv.AppendInt(bb[:0], tb, 10))
	}
	return model.LogID(a) < model.LogID(b)
}

// patternRollupArgs are the batch's rows of log_pattern_rollups as the parallel
// arrays of its log_pattern_rollup_batches row ($13 on, in slot order), then the
// first and last slot. Templates are
// model.MessagePattern's, each distinct message of the batch masked once.
func (w *batchWriter) patternRollupArgs(keep []int) []any {
	type key struct {
		slot             int64
		sev              int16
		source, template string
	}
	sourceAt := kindOf(w.kind).sourceAt
	templates := map[string]string{}
	groups := map[key]*patternAgg{}
	for _, i := range keep {
		l, _ := w.logAt(i)
		msg := logMessage(l)
		tpl, ok := templates[msg]
		if !ok {
			tpl = model.MessagePattern(msg)
			templates[msg] = tpl
		}
		t := l.Time().Truncate(time.Microsecond) // as stored
		k := key{slotOf(t).Unix(), int16(l.Severity()), sourceAt(w, i), tpl}
		g := groups[k]
		if g == nil {
			groups[k] = &patternAgg{n: 1, first: t, last: t, sample: l}
			continue
		}
		g.n++
		if t.Before(g.first) {
			g.first = t
		}
		if t.After(g.last) {
			g.last = t
		}
		if sampleLess(l, g.sample) { // byte order: the SQL's COLLATE "C"
			g.sample = l
		}
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.slot, b.slot), cmp.Compare(a.sev, b.sev), strings.Compare(a.source, b.source),
			strings.Compare(a.template, b.template))
	})
	var (
		slots, firsts, lasts     []time.Time
		sevs                     []int16
		sources, templs, samples []string
		counts                   []int64
	)
	for _, k := range keys {
		g := groups[k]
		slots, sevs, sources, templs = append(slots, time.Unix(k.slot, 0).UTC()), append(sevs, k.sev), append(sources, k.source), append(templs, k.template)
		counts, firsts, lasts, samples = append(counts, g.n), append(firsts, g.first), append(lasts, g.last), append(samples, sampleKey(g.sample))
	}
	var first, last *time.Time // the packed row's span (nil: no row)
	if len(slots) > 0 {
		first, last = &slots[0], &slots[len(slots)-1]
	}
	return []any{slots, sevs, sources, templs, counts, firsts, lasts, samples, first, last}
}

// logMessage is l's message as messageSQL reads it from its row.
func logMessage(l model.Log) string {
	switch x := l.(type) {
	case *model.AppLog:
		return x.Message
	case *model.ActionLog:
		return x.Message
	case interface{ Message() string }:
		return x.Message()
	}
	return ""
}

// patternRollupCTE is the ingest statement's part that inserts patternRollupArgs
// (bound from $13) as one log_pattern_rollup_batches row, the arrays as they come
// (none when the batch stored nothing).
const patternRollupCTE = `patterns AS (
			INSERT INTO log_pattern_rollup_batches (workspace_id, kind, slots, severity, source, pattern, n, first_seen, last_seen, sample, slot, last_slot)
			SELECT $1, $2, $13::timestamptz[], $14::int2[], $15::text[], $16::text[], $17::int8[], $18::timestamptz[], $19::timestamptz[], $20::text[],
				$21::timestamptz, $22::timestamptz
			WHERE $21::timestamptz IS NOT NULL
		)`

// sampleSQL is the key of a log of kind k on alias t as patternRow.Sample spells it
// (sampleKey in Go).
func sampleSQL(k model.LogKind) schema.QueryAppender {
	return bun.SafeQuery("? || ' ' || (extract(epoch FROM t.?) * 1000000)::bigint || ' ' || t.id::text", string(k), bun.Ident(k.TimeColumn()))
}

// patternRollupsSelect is kind k's rows of log_pattern_rollups computed from the rows
// of from (a relation of k aliased t, with its joins and WHERE clause): the same
// masking as logPatterns' rows (PatternSQL), each distinct message masked once.
func patternRollupsSelect(k model.LogKind, from schema.QueryAppender) schema.QueryAppender {
	ki, ts := kindOf(k), bun.Ident(k.TimeColumn())
	return bun.SafeQuery(`SELECT m.workspace_id, m.slot, m.severity, m.source, ? AS pattern, sum(m.n) AS n,
			min(m.first_seen) AS first_seen, max(m.last_seen) AS last_seen, min(m.sample COLLATE "C") AS sample
		FROM (
			SELECT t.workspace_id, date_bin('15 minutes', t.?, 'epoch') AS slot, t.? AS severity, t.?::text AS source,
				? AS msg, count(*) AS n, min(t.?) AS first_seen, max(t.?) AS last_seen, min(? COLLATE "C") AS sample
			FROM ? GROUP BY 1, 2, 3, 4, 5
		) m GROUP BY 1, 2, 3, 4, 5`,
		PatternSQL(bun.Safe("m.msg")), ts, bun.Ident(ki.severity), bun.Ident(ki.source), messageSQL(k), ts, ts, sampleSQL(k), from)
}

// patternRollupsInsert inserts patternRollupsSelect(k, from).
func patternRollupsInsert(k model.LogKind, from schema.QueryAppender) schema.QueryAppender {
	return bun.SafeQuery(`INSERT INTO log_pattern_rollups (workspace_id, kind, slot, severity, source, pattern, n, first_seen, last_seen, sample)
		SELECT s.workspace_id, ?, s.slot, s.severity, s.source, s.pattern, s.n, s.first_seen, s.last_seen, s.sample FROM (?) AS s`,
		string(k), patternRollupsSelect(k, from))
}

// rawSQL renders q for pgx (placeholders $n in from clauses stay as they are).
func rawSQL(q schema.QueryAppender) (string, error) {
	b, err := q.AppendQuery(schema.NewQueryGen(pgdialect.New()), nil)
	return string(b), err
}

// lockPatterns takes patternLockKey for tx's remaining statements.
func lockPatterns(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, patternLockKey); err != nil {
		return fmt.Errorf("lock pattern rollups: %w", err)
	}
	return nil
}

// patternSlotsRecompute is the part of a deletion statement (after its gone CTE,
// which returns the deleted rows' id and time column) that recomputes the
// log_pattern_rollups rows of the slots the deletion touched from the rows kept.
func patternSlotsRecompute(k model.LogKind, ws uuid.UUID) schema.QueryAppender {
	ts := bun.Ident(k.TimeColumn())
	kept := bun.SafeQuery(`? AS t JOIN pslots ON t.? >= pslots.slot AND t.? < pslots.slot + interval '15 minutes'
		WHERE t.workspace_id = ? AND NOT EXISTS (SELECT 1 FROM gone g WHERE g.id = t.id AND g.? = t.?)`,
		bun.Ident(k.Table()), ts, ts, ws, ts, ts)
	// The batches' packed rows of those slots go too: their other slots' rows stay, as
	// log_pattern_rollups rows.
	unpack := patternBatchesUnpack("pb.workspace_id = ? AND pb.kind = ? AND EXISTS (SELECT 1 FROM pslots WHERE pslots.slot BETWEEN pb.slot AND pb.last_slot)",
		"NOT EXISTS (SELECT 1 FROM pslots WHERE pslots.slot = u.slot)")
	return bun.SafeQuery(`pslots AS (SELECT DISTINCT date_bin('15 minutes', gone.?, 'epoch') AS slot FROM gone),
		pgone AS (
			DELETE FROM log_pattern_rollups p USING pslots
			WHERE p.workspace_id = ? AND p.kind = ? AND p.slot = pslots.slot
		), `+unpack+`, prolled AS (?)`, ts, ws, string(k), ws, string(k), patternRollupsInsert(k, kept))
}

// patternRollupWhere reads, in q, kind k's log_pattern_rollups rows (with the
// batches' packed rows) as r, those of the slots of [lo, hi) of workspace ws that f
// keeps (f's fields are those rollupRefusal accepts).
func patternRollupWhere(q *bun.SelectQuery, ws uuid.UUID, k model.LogKind, f *model.LogFilter, lo, hi time.Time) {
	q.TableExpr("(?) AS r", patternRollupFrom(ws, string(k), lo, hi))
	q.Where("r.workspace_id = ? AND r.kind = ? AND r.slot >= ? AND r.slot < ?", ws, string(k), lo, hi)
	rollupDims(q, ws, k, f)
}

// PatternRollupMismatches counts the (kind, slot, severity, source, template) groups
// of workspace ws whose log_pattern_rollups rows (merged) differ from the same
// aggregates computed afresh from the rows, in count, first or last time or sample:
// 0 when the pattern rollup is exact.
func PatternRollupMismatches(ctx context.Context, d *DB, ws uuid.UUID) (int, error) {
	total := 0
	for _, k := range model.AllKinds {
		fresh := patternRollupsSelect(k, bun.SafeQuery("? AS t WHERE t.workspace_id = ?", bun.Ident(k.Table()), ws))
		var n int
		err := d.Bun.NewRaw(`SELECT count(*) FROM (?) raw FULL JOIN (
				SELECT slot, severity, source, pattern, sum(n) AS n, min(first_seen) AS first_seen,
					max(last_seen) AS last_seen, min(sample COLLATE "C") AS sample
				FROM (?) AS p WHERE workspace_id = ? AND kind = ? GROUP BY 1, 2, 3, 4
			) r ON r.slot = raw.slot AND r.severity = raw.severity AND r.source IS NOT DISTINCT FROM raw.source
				AND r.pattern = raw.pattern
			WHERE (raw.n, raw.first_seen, raw.last_seen, raw.sample) IS DISTINCT FROM (r.n, r.first_seen, r.last_seen, r.sample)`,
			fresh, patternRollupsWithBatches("b.workspace_id = ?", ws), ws, string(k)).Scan(ctx, &n)
		if err != nil {
			return 0, fmt.Errorf("compare pattern rollups of %s: %w", k.Table(), err)
		}
		total += n
	}
	return total, nil
}

// mergePatternRollups merges the log_pattern_rollups rows matching where (a
// countScope clause on slot) and the packed rows of the log_pattern_rollup_batches
// rows matching batchWhere (its clause on their span, with the same arguments) into
// one row per key, in one statement under patternLockKey. It returns the rows
// written.
func mergePatternRollups(ctx context.Context, d *DB, where, batchWhere string, args []any) (int64, error) {
	return rewritePatterns(ctx, d, `
		WITH goneRows AS (
			DELETE FROM log_pattern_rollups WHERE `+where+` RETURNING *
		), goneBatches AS (
			DELETE FROM log_pattern_rollup_batches WHERE `+batchWhere+` RETURNING *
		), src AS (
			SELECT `+patternRollupCols+` FROM goneRows UNION ALL `+patternBatchRows("goneBatches")+`
		)`, args...)
}

// CompactPatternRollups moves the log_pattern_rollup_batches rows whose slots all lie
// before before (of every workspace) into log_pattern_rollups, merged with the rows
// of the slots they touch into one row per key, in one statement under
// patternLockKey: readers then take a slot's templates from a few rows instead of
// unnesting every batch. It returns the rows written. serve runs it with
// CompactRequestRollups.
func CompactPatternRollups(ctx context.Context, d *DB, before time.Time) (int64, error) {
	return rewritePatterns(ctx, d, `
		WITH goneBatches AS (
			DELETE FROM log_pattern_rollup_batches WHERE last_slot < $1 RETURNING *
		), moved AS (`+patternBatchRows("goneBatches")+`
		), folded AS (
			DELETE FROM log_pattern_rollups AS r USING (SELECT DISTINCT workspace_id, kind, slot FROM moved) AS k
			WHERE r.workspace_id = k.workspace_id AND r.kind = k.kind AND r.slot = k.slot
			RETURNING r.*
		), src AS (
			SELECT `+patternRollupCols+` FROM moved UNION ALL SELECT `+patternRollupCols+` FROM folded
		)`, before)
}

// rewritePatterns runs, under patternLockKey, the statement of with (WITH clauses
// ending in src, the log_pattern_rollups rows it took out) inserting src's rows back
// merged, one per key. It returns the rows written.
func rewritePatterns(ctx context.Context, d *DB, with string, args ...any) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		if err := lockPatterns(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, with+`
			INSERT INTO log_pattern_rollups (`+patternRollupCols+`)
			SELECT workspace_id, kind, slot, severity, source, pattern, sum(n), min(first_seen), max(last_seen), min(sample COLLATE "C")
			FROM src GROUP BY workspace_id, kind, slot, severity, source, pattern`, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("compact pattern rollups: %w", err)
	}
	return n, nil
}
