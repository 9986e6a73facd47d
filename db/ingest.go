package db

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loggraph/loggraph/model"
)

// NotifyChannel is the LISTEN/NOTIFY channel of committed ingest batches.
const NotifyChannel = "loggraph_ingest"

// IngestResult counts what a batch did: rows stored and records skipped because the
// same (id, time) was already stored or appeared earlier in the batch.
type IngestResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// BatchNotice is the payload of the one NOTIFY sent per committed batch: the rows
// of the batch are those of the workspace and kind with this batch id, their times in
// [From, To], written by transaction Xid (64-bit, pg_current_xact_id(): what
// pg_current_snapshot() speaks; 0 from servers before it was sent).
type BatchNotice struct {
	WorkspaceID uuid.UUID     `json:"workspace_id"`
	Kind        model.LogKind `json:"kind"`
	Batch       int64         `json:"batch"`
	Count       int           `json:"count"`
	From        time.Time     `json:"from"`
	To          time.Time     `json:"to"`
	Xid         uint64        `json:"xid,omitempty"`
}

// IngestStore writes validated batches: all or nothing, idempotent for client ids.
type IngestStore struct {
	db    *DB
	parts *Partitions
}

// NewIngestStore returns the ingest store.
func NewIngestStore(d *DB, parts *Partitions) *IngestStore { return &IngestStore{db: d, parts: parts} }

// maxAttempts bounds retries when the batch's client ids turn out to be stored: by an
// earlier batch (found on the unchecked first attempt) or by a concurrent one between
// the duplicate check and the COPY.
const maxAttempts = 4

// Ingest stores a batch in one transaction and notifies listeners after the commit.
// A *model.BatchError is returned when the batch contradicts stored data (a job that
// belongs to another integration).
func (s *IngestStore) Ingest(ctx context.Context, ws uuid.UUID, b *model.Batch) (IngestResult, error) {
	if b.Len() == 0 {
		return IngestResult{}, nil
	}
	w, err := newBatchWriter(ws, b)
	if err != nil {
		return IngestResult{}, err
	}
	if err := s.parts.Ensure(ctx, b.Kind, w.times()); err != nil {
		return IngestResult{}, err
	}
	if err := w.reserveActionIDs(ctx, s.db.Pool); err != nil {
		return IngestResult{}, err
	}
	// The first attempt stores without looking the batch's given ids up (one round
	// trip less per batch): a record already stored fails the list index's
	// uniqueness, which rolls the batch back, and the next attempts check. Action ids
	// have rules of their own (claimActionIDs), checked every time.
	optimistic := w.kind != model.KindAction
	reEnsured := false
	for attempt := 1; ; attempt++ {
		res, err := s.ingestOnce(ctx, w, optimistic && attempt == 1)
		if err != nil && IsUniqueViolation(err) && attempt < maxAttempts {
			continue // a concurrent retry of the same records won; recheck duplicates
		}
		if err != nil && isNoPartition(err) && !reEnsured {
			// A partition the cache knew was dropped (by an operator or retention):
			// forget the table's cache, create what is missing and try once more.
			reEnsured = true
			s.parts.forget(b.Kind.Table())
			if err := s.parts.Ensure(ctx, b.Kind, w.times()); err != nil {
				return IngestResult{}, err
			}
			continue
		}
		if err != nil && isWorkspaceGone(err) {
			return IngestResult{}, ErrWorkspaceDeleted
		}
		if err != nil {
			return IngestResult{}, err
		}
		return res, nil
	}
}

// ErrWorkspaceDeleted refuses a batch whose workspace was deleted while it was in
// flight (its counts' foreign key found no workspace): nothing was stored.
var ErrWorkspaceDeleted = errors.New("the workspace was deleted; nothing was stored")

// isWorkspaceGone reports the foreign key of log_counts or log_rollups failing: the
// batch's workspace no longer exists.
func isWorkspaceGone(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" &&
		(pgErr.ConstraintName == "log_counts_workspace_fk" || pgErr.ConstraintName == "log_rollups_workspace_fk")
}

func (s *IngestStore) ingestOnce(ctx context.Context, w *batchWriter, unchecked bool) (IngestResult, error) {
	var res IngestResult
	err := pgx.BeginFunc(ctx, s.db.Pool, func(tx pgx.Tx) error {
		if err := w.syncEntities(ctx, tx); err != nil {
			return err
		}
		keep := w.firstOccurrences()
		if !unchecked {
			var err error
			if keep, err = w.dropDuplicates(ctx, tx); err != nil {
				return err
			}
		}
		keep, err := w.claimActionIDs(ctx, tx, keep)
		if err != nil {
			return err
		}
		var counts *pendingCounts
		if len(keep) > 0 {
			counts = w.startCounts(keep) // while the COPY runs
			defer counts.wait()
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{w.kind.Table()}, w.columns(), w.rows(keep))
		if err != nil {
			return fmt.Errorf("copy %s: %w", w.kind.Table(), err)
		}
		res = IngestResult{Accepted: int(n), Duplicates: w.n - int(n)}
		if n == 0 {
			return nil
		}
		if err := insertCounts(ctx, tx, counts); err != nil {
			return err
		}
		from, to := w.timeRange(keep)
		payload, err := json.Marshal(BatchNotice{WorkspaceID: w.ws, Kind: w.kind, Batch: w.batch, Count: int(n), From: from, To: to})
		if err != nil {
			return err
		}
		// The transaction id is added in SQL: asking for it first would cost a round trip.
		_, err = tx.Exec(ctx, "SELECT pg_notify($1, ($2::jsonb || jsonb_build_object('xid', pg_current_xact_id()::text::bigint))::text)",
			NotifyChannel, string(payload))
		return err
	})
	return res, err
}

// batchWriter turns one validated batch into rows. Entity ids (collections, clients)
// are filled in by syncEntities.
type batchWriter struct {
	ws     uuid.UUID
	kind   model.LogKind
	batch  int64 // random: identifies the batch's rows for the live tail
	b      *model.Batch
	n      int
	seenAt []bool // records that repeat an earlier record of the same batch

	collectionIDs map[string]int64
	clientIDs     map[string]int64
}

func newBatchWriter(ws uuid.UUID, b *model.Batch) (*batchWriter, error) {
	w := &batchWriter{ws: ws, kind: b.Kind, b: b, n: b.Len(), batch: newBatchID()}
	w.seenAt = make([]bool, w.n)
	if err := w.assignUUIDs(); err != nil {
		return nil, err
	}
	w.markInBatchRepeats()
	return w, nil
}

// assignUUIDs gives server ids (UUIDv7, time-ordered) to records sent without one.
func (w *batchWriter) assignUUIDs() error {
	next := func() (uuid.UUID, error) { return uuid.NewV7() }
	var err error
	for i := range w.b.App {
		if r := &w.b.App[i]; !r.IDGiven {
			if r.Log.ID, err = next(); err != nil {
				return err
			}
		}
	}
	for i := range w.b.APIRequest {
		if r := &w.b.APIRequest[i]; !r.IDGiven {
			if r.Log.ID, err = next(); err != nil {
				return err
			}
		}
	}
	for i := range w.b.Integration {
		if r := &w.b.Integration[i]; !r.IDGiven {
			if r.Log.ID, err = next(); err != nil {
				return err
			}
		}
	}
	for i := range w.b.APIReference {
		if r := &w.b.APIReference[i]; !r.IDGiven {
			id, err := next()
			if err != nil {
				return err
			}
			r.Log.ID = id.String()
		}
	}
	return nil
}

// newBatchID draws a batch id: 63 random bits, positive. Ids are looked up together
// with the workspace, kind and time range, so a collision could only merge two
// batches of one workspace and kind overlapping in time, with 2^-63 odds.
func newBatchID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// recordKey is a record's identity for idempotency: its id and its time.
type recordKey struct {
	id string
	t  time.Time
}

// logAt is record i's log and what the client sent of it.
func (w *batchWriter) logAt(i int) (model.Log, model.RecordMeta) {
	return kindOf(w.kind).record(w.b, i)
}

func (w *batchWriter) key(i int) (recordKey, bool) {
	l, meta := w.logAt(i)
	return recordKey{model.LogID(l), l.Time()}, meta.IDGiven
}

func (w *batchWriter) markInBatchRepeats() {
	seen := make(map[recordKey]bool)
	for i := 0; i < w.n; i++ {
		k, given := w.key(i)
		if !given {
			continue
		}
		if seen[k] {
			w.seenAt[i] = true
		}
		seen[k] = true
	}
}

func (w *batchWriter) timeAt(i int) time.Time {
	l, _ := w.logAt(i)
	return l.Time()
}

func (w *batchWriter) times() []time.Time {
	ts := make([]time.Time, w.n)
	for i := range ts {
		ts[i] = w.timeAt(i)
	}
	return ts
}

func (w *batchWriter) timeRange(keep []int) (from, to time.Time) {
	for j, i := range keep {
		t := w.timeAt(i)
		if j == 0 || t.Before(from) {
			from = t
		}
		if j == 0 || t.After(to) {
			to = t
		}
	}
	return from, to
}

// dropDuplicates returns the indexes of the records to store: those not repeated
// within the batch and not already stored with the same (id, time).
// firstOccurrences lists the records that do not repeat an earlier record of the
// batch.
func (w *batchWriter) firstOccurrences() []int {
	keep := make([]int, 0, w.n)
	for i := 0; i < w.n; i++ {
		if !w.seenAt[i] {
			keep = append(keep, i)
		}
	}
	return keep
}

func (w *batchWriter) dropDuplicates(ctx context.Context, tx pgx.Tx) ([]int, error) {
	var ids []string
	var ts []time.Time
	for _, i := range w.firstOccurrences() {
		if k, given := w.key(i); given {
			ids = append(ids, k.id)
			ts = append(ts, k.t)
		}
	}
	stored, err := w.storedKeys(ctx, tx, ids, ts)
	if err != nil {
		return nil, err
	}
	keep := w.firstOccurrences()
	return slices.DeleteFunc(keep, func(i int) bool {
		k, given := w.key(i)
		return given && stored[recordKey{k.id, k.t.UTC()}]
	}), nil
}

// storedKeys returns which of the (id, time) keys are stored (times in UTC).
func (w *batchWriter) storedKeys(ctx context.Context, tx pgx.Tx, ids []string, ts []time.Time) (map[recordKey]bool, error) {
	stored := make(map[recordKey]bool)
	if len(ids) > 0 {
		idType := idType(w.kind)
		table, col := pgx.Identifier{w.kind.Table()}.Sanitize(), pgx.Identifier{w.kind.TimeColumn()}.Sanitize()
		// One index probe per key (the LIMIT keeps the lateral subquery from being
		// flattened into a join): as a plain join, PostgreSQL's custom plan hashed every
		// stored row of the workspace (EXPLAIN: 255 ms for 132,000 rows, growing with the
		// workspace) where 500 probes take 7 ms; the probe's time also prunes partitions
		// at run time.
		rows, err := tx.Query(ctx, fmt.Sprintf(`
			SELECT t.id, t.ts FROM unnest($2::text[], $3::timestamptz[]) AS k(id, ts)
			CROSS JOIN LATERAL (
				SELECT s.id::text AS id, s.%[2]s AS ts FROM %[1]s s
				WHERE s.workspace_id = $1 AND s.%[2]s = k.ts AND s.id = k.id::%[3]s LIMIT 1) t`, table, col, idType),
			w.ws, ids, ts)
		if err != nil {
			return nil, fmt.Errorf("check duplicates: %w", err)
		}
		for rows.Next() {
			var k recordKey
			if err := rows.Scan(&k.id, &k.t); err != nil {
				rows.Close()
				return nil, fmt.Errorf("check duplicates: %w", err)
			}
			stored[recordKey{k.id, k.t.UTC()}] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("check duplicates: %w", err)
		}
	}
	return stored, nil
}

// claimActionIDs makes an action log id name one log of the workspace: it adds the
// ids of the records to store to action_log_ids (the key the partitioned table cannot
// have) and refuses the batch, naming each line, when an id is already stored with
// another created_at or appears twice in the batch with two times. A record that a
// concurrent batch stored meanwhile with the same id and time is a retry: skipped as
// a duplicate, as dropDuplicates would have. An id whose log was deleted may name a
// new one (its key stays in action_log_ids, locked while it is checked).
func (w *batchWriter) claimActionIDs(ctx context.Context, tx pgx.Tx, keep []int) ([]int, error) {
	if w.kind != model.KindAction || len(keep) == 0 {
		return keep, nil
	}
	var bad model.BatchError
	lineOf := make(map[int64]int, len(keep))
	ids := make([]int64, 0, len(keep))
	for _, i := range keep {
		r := &w.b.Action[i]
		if line, ok := lineOf[r.Log.ID]; ok {
			addBad(&bad, r.Line, fmt.Sprintf("field \"id\": id %d is also on line %d with another created_at; "+
				"an action log id names one log", r.Log.ID, line))
			continue
		}
		lineOf[r.Log.ID] = r.Line
		ids = append(ids, r.Log.ID)
	}
	if bad.Total > 0 {
		return nil, &bad
	}
	rows, err := tx.Query(ctx, `INSERT INTO action_log_ids (workspace_id, id) SELECT $1, unnest($2::bigint[])
		ON CONFLICT DO NOTHING RETURNING id`, w.ws, ids)
	if err != nil {
		return nil, fmt.Errorf("claim action ids: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("claim action ids: %w", err)
	}
	if len(claimed) == len(ids) {
		return keep, nil
	}
	isClaimed := make(map[int64]bool, len(claimed))
	for _, id := range claimed {
		isClaimed[id] = true
	}
	var taken []string
	var times []time.Time
	for _, i := range keep {
		if l := &w.b.Action[i].Log; !isClaimed[l.ID] {
			taken = append(taken, strconv.FormatInt(l.ID, 10))
			times = append(times, l.CreatedAt)
		}
	}
	// Lock the taken ids' keys (waiting for a batch that holds one), then look in new
	// statements, which see what that batch committed.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM action_log_ids WHERE workspace_id = $1 AND id = ANY($2::bigint[]) FOR UPDATE`,
		w.ws, taken); err != nil {
		return nil, fmt.Errorf("lock action ids: %w", err)
	}
	stored, err := w.storedKeys(ctx, tx, taken, times)
	if err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT DISTINCT id FROM action_logs WHERE workspace_id = $1 AND id = ANY($2::bigint[])`, w.ws, taken)
	if err != nil {
		return nil, fmt.Errorf("check action ids: %w", err)
	}
	present, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("check action ids: %w", err)
	}
	inUse := make(map[int64]bool, len(present))
	for _, id := range present {
		inUse[id] = true
	}
	out := keep[:0:0]
	for _, i := range keep {
		r := &w.b.Action[i]
		switch {
		case isClaimed[r.Log.ID]:
			out = append(out, i)
		case stored[recordKey{strconv.FormatInt(r.Log.ID, 10), r.Log.CreatedAt.UTC()}]:
			// the same record, stored by a concurrent batch: a duplicate
		case !inUse[r.Log.ID]:
			// The id's log was deleted (deleteLogs, retention): the id is free again.
			out = append(out, i)
		default:
			addBad(&bad, r.Line, fmt.Sprintf("field \"id\": id %d is already stored with another created_at; "+
				"an action log id names one log", r.Log.ID))
		}
	}
	if bad.Total > 0 {
		return nil, &bad
	}
	return out, nil
}

// reserveActionIDs gives server-made ids to the action logs sent without one, from
// the workspace's own counter (action_id_counters), and moves the counter past the
// batch's client-sent ids, so that later server ids never reuse them. Like a
// sequence, it runs in its own short statement outside the batch's transaction: no
// row lock is held while the batch is written, and a rolled-back batch leaves a gap
// (in this workspace's ids only). Ids stay within 1..model.MaxActionID; when the
// workspace's client ids leave no room, the records without an id are refused.
func (w *batchWriter) reserveActionIDs(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	if w.kind != model.KindAction {
		return nil
	}
	var need int64
	var maxGiven int64
	for _, r := range w.b.Action {
		if r.IDGiven {
			maxGiven = max(maxGiven, r.Log.ID)
		} else {
			need++
		}
	}
	first, err := ReserveActionIDs(ctx, q, w.ws, need, maxGiven)
	if errors.Is(err, ErrActionIDsExhausted) {
		var bad model.BatchError
		for _, r := range w.b.Action {
			if !r.IDGiven {
				addBad(&bad, r.Line, fmt.Sprintf("field \"id\": the workspace has no server-made action ids left "+
					"(its ids reach %d); send an id", model.MaxActionID))
			}
		}
		return &bad
	}
	if err != nil {
		return err
	}
	next := first
	for i := range w.b.Action {
		if r := &w.b.Action[i]; !r.IDGiven {
			r.Log.ID = next
			next++
		}
	}
	return nil
}

// ErrActionIDsExhausted: the workspace's action ids would pass model.MaxActionID.
var ErrActionIDsExhausted = errors.New("action ids exhausted")

// ReserveActionIDs takes need consecutive action log ids from workspace ws's counter
// and moves the counter past maxGiven (the largest client-sent id, or 0), in one
// statement; it returns the first id. It fails with ErrActionIDsExhausted, changing
// nothing, when the ids would pass model.MaxActionID.
func ReserveActionIDs(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, ws uuid.UUID, need, maxGiven int64) (int64, error) {
	if need == 0 && maxGiven == 0 {
		return 0, nil
	}
	// next_id is the smallest id not yet used; the CHECK in the table refuses a
	// counter past MaxActionID+1, so an exhausted workspace changes nothing.
	var first int64
	err := q.QueryRow(ctx, `
		INSERT INTO action_id_counters AS c (workspace_id, next_id) VALUES ($1, $3::bigint + 1 + $2::bigint)
		ON CONFLICT (workspace_id) DO UPDATE SET next_id = greatest(c.next_id, $3::bigint + 1) + $2::bigint
		RETURNING next_id - $2::bigint`, ws, need, maxGiven).Scan(&first)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23514" && pe.ConstraintName == "action_id_counters_next_id_check" {
		return 0, ErrActionIDsExhausted
	}
	if err != nil {
		return 0, fmt.Errorf("reserve action ids: %w", err)
	}
	return first, nil
}

func (w *batchWriter) columns() []string { return kindOf(w.kind).copyColumns }

func (w *batchWriter) rows(keep []int) pgx.CopyFromSource {
	row := kindOf(w.kind).copyRow
	return pgx.CopyFromSlice(len(keep), func(j int) ([]any, error) {
		vals, err := row(w, keep[j])
		for i, v := range vals {
			vals[i] = copyUUID(v)
		}
		return vals, err
	})
}

// copyUUID is v with a uuid.UUID as its 16 bytes, which pgx encodes in binary at
// once: a uuid.UUID is a driver.Valuer, which pgx encodes by trying its string form
// as binary, failing (an error built per value), parsing the text and encoding
// again, about a sixth of an API-request batch's Go time in COPY.
func copyUUID(v any) any {
	switch u := v.(type) {
	case uuid.UUID:
		return [16]byte(u)
	case *uuid.UUID:
		if u == nil {
			return nil
		}
		return [16]byte(*u)
	}
	return v
}

func appRow(w *batchWriter, i int) ([]any, error) {
	l := &w.b.App[i].Log
	var details any
	if l.Details != nil {
		details = []byte(l.Details)
	}
	return []any{w.ws, l.ID, l.Timestamp, int16(l.Level), l.Service, l.Message, details, traceArg(l.TraceID), spanArg(l.SpanID), w.batch}, nil
}

// traceArg and spanArg are COPY's values of the optional trace and span ids.
func traceArg(t *model.TraceID) any {
	if t == nil {
		return nil
	}
	return [16]byte(*t)
}

func spanArg(s *model.SpanID) any {
	if s == nil {
		return nil
	}
	v, _ := s.Value()
	return v
}

func requestRow(w *batchWriter, i int) ([]any, error) {
	r := &w.b.APIRequest[i]
	l := &r.Log
	var client *int64
	if r.Client != nil {
		id := w.clientIDs[*r.Client]
		client = &id
	}
	return []any{w.ws, l.ID, l.ReceivedAt, int16(l.Code), l.GatewayCode, l.StatusDetails, l.IP,
		l.TimingMs, l.DelayMs, w.collectionIDs[r.Collection], client, l.Endpoint, l.JobURL, traceArg(l.TraceID), spanArg(l.SpanID), w.batch}, nil
}

func integrationRow(w *batchWriter, i int) ([]any, error) {
	l := &w.b.Integration[i].Log
	return []any{w.ws, l.ID, l.CreatedAt, l.IntegrationID, l.JobID, l.Succeeded, l.Attempt,
		l.Body, int16(l.StatusCode), l.ErrorDetail, w.batch}, nil
}

func actionRow(w *batchWriter, i int) ([]any, error) {
	l := &w.b.Action[i].Log
	return []any{w.ws, l.ID, l.CreatedAt, int16(l.Level), l.LoggerName, l.Message, l.AppName, l.Trace, w.batch}, nil
}

func referenceRow(w *batchWriter, i int) ([]any, error) {
	l := &w.b.APIReference[i].Log
	errs, err := json.Marshal(l.Errors)
	if err != nil {
		return nil, err
	}
	alerts, err := json.Marshal(l.Alerts)
	if err != nil {
		return nil, err
	}
	return []any{w.ws, l.ID, l.ModifiedAt, l.APIReferenceID, l.UserID, l.Title, l.ErrorCount, l.AlertsCount,
		errs, alerts, w.batch}, nil
}

// syncEntities creates the entities the batch refers to and updates changed names.
// It reads first and writes only what is missing or changed, so that concurrent
// batches naming the same entities do not queue on row locks.
func (w *batchWriter) syncEntities(ctx context.Context, tx pgx.Tx) error {
	if sync := kindOf(w.kind).syncEntities; sync != nil {
		return sync(w, ctx, tx)
	}
	return nil
}

func (w *batchWriter) syncCollectionsAndClients(ctx context.Context, tx pgx.Tx) error {
	types := make(map[string]model.CollectionType)
	clients := make(map[string]bool)
	for _, r := range w.b.APIRequest {
		types[r.Collection] = r.CollectionType // the last record's type wins
		if r.Client != nil {
			clients[*r.Client] = true
		}
	}
	names := sortedKeys(types)
	var err error
	w.collectionIDs, err = selectIDsByName(ctx, tx, "api_collections", w.ws, names, func(name string, stored string) bool {
		return string(types[name]) != stored
	})
	if err != nil {
		return err
	}
	var upsert, upsertTypes []string
	for _, n := range names {
		if _, ok := w.collectionIDs[n]; !ok {
			upsert = append(upsert, n)
			upsertTypes = append(upsertTypes, string(types[n]))
		}
	}
	if len(upsert) > 0 {
		_, err := tx.Exec(ctx, `
			INSERT INTO api_collections (workspace_id, name, type)
			SELECT $1, u.name, u.type FROM unnest($2::text[], $3::text[]) AS u(name, type)
			ON CONFLICT (workspace_id, name) DO UPDATE SET type = EXCLUDED.type
			WHERE api_collections.type <> EXCLUDED.type`, w.ws, upsert, upsertTypes)
		if err != nil {
			return fmt.Errorf("upsert collections: %w", err)
		}
		if w.collectionIDs, err = selectIDsByName(ctx, tx, "api_collections", w.ws, names, nil); err != nil {
			return err
		}
	}
	clientNames := sortedKeys(clients)
	if len(clientNames) == 0 {
		return nil
	}
	if w.clientIDs, err = selectIDsByName(ctx, tx, "api_clients", w.ws, clientNames, nil); err != nil {
		return err
	}
	if len(w.clientIDs) < len(clientNames) {
		_, err := tx.Exec(ctx, `
			INSERT INTO api_clients (workspace_id, name) SELECT $1, unnest($2::text[])
			ON CONFLICT (workspace_id, name) DO NOTHING`, w.ws, clientNames)
		if err != nil {
			return fmt.Errorf("upsert clients: %w", err)
		}
		if w.clientIDs, err = selectIDsByName(ctx, tx, "api_clients", w.ws, clientNames, nil); err != nil {
			return err
		}
	}
	return nil
}

// selectIDsByName maps names to ids in a name-keyed entity table. When changed is
// given, a row whose type differs is left out, so that the caller upserts it.
func selectIDsByName(ctx context.Context, tx pgx.Tx, table string, ws uuid.UUID, names []string,
	changed func(name, storedType string) bool) (map[string]int64, error) {
	col := "''"
	if table == "api_collections" {
		col = "type"
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, name, %s FROM %s WHERE workspace_id = $1 AND name = ANY($2)`,
		col, pgx.Identifier{table}.Sanitize()), ws, names)
	if err != nil {
		return nil, fmt.Errorf("select %s: %w", table, err)
	}
	defer rows.Close()
	ids := make(map[string]int64, len(names))
	for rows.Next() {
		var id int64
		var name, typ string
		if err := rows.Scan(&id, &name, &typ); err != nil {
			return nil, fmt.Errorf("select %s: %w", table, err)
		}
		if changed == nil || !changed(name, typ) {
			ids[name] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select %s: %w", table, err)
	}
	return ids, nil
}

func (w *batchWriter) syncIntegrations(ctx context.Context, tx pgx.Tx) error {
	names := make(map[uuid.UUID]*string)
	type jobInfo struct {
		integration uuid.UUID
		first       time.Time
		line        int
	}
	jobs := make(map[uuid.UUID]jobInfo)
	var bad model.BatchError
	for _, r := range w.b.Integration {
		setName(names, r.Log.IntegrationID, r.IntegrationName)
		if r.Log.JobID == nil {
			continue
		}
		j, ok := jobs[*r.Log.JobID]
		switch {
		case !ok:
			jobs[*r.Log.JobID] = jobInfo{r.Log.IntegrationID, r.Log.CreatedAt, r.Line}
		case j.integration != r.Log.IntegrationID:
			addBad(&bad, r.Line, fmt.Sprintf("field \"job_id\": job %s belongs to integration %s (line %d), not %s",
				r.Log.JobID, j.integration, j.line, r.Log.IntegrationID))
		case r.Log.CreatedAt.Before(j.first):
			j.first = r.Log.CreatedAt
			jobs[*r.Log.JobID] = j
		}
	}
	if bad.Total > 0 {
		return &bad
	}
	ids := sortedUUIDs(names)
	rows, err := tx.Query(ctx, `SELECT id, name FROM integrations WHERE workspace_id = $1 AND id = ANY($2)`, w.ws, ids)
	if err != nil {
		return fmt.Errorf("select integrations: %w", err)
	}
	stored := make(map[uuid.UUID]*string)
	for rows.Next() {
		var id uuid.UUID
		var name *string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return fmt.Errorf("select integrations: %w", err)
		}
		stored[id] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select integrations: %w", err)
	}
	var upIDs []uuid.UUID
	var upNames []*string
	renamed := false
	for _, id := range ids {
		cur, ok := stored[id]
		if n := names[id]; !ok || (n != nil && (cur == nil || *cur != *n)) {
			upIDs, upNames = append(upIDs, id), append(upNames, n)
			renamed = renamed || ok
		}
	}
	if len(upIDs) > 0 {
		_, err := tx.Exec(ctx, `
			INSERT INTO integrations (workspace_id, id, name)
			SELECT $1, u.id, u.name FROM unnest($2::uuid[], $3::text[]) AS u(id, name)
			ON CONFLICT (workspace_id, id) DO UPDATE SET name = EXCLUDED.name
			WHERE EXCLUDED.name IS NOT NULL AND integrations.name IS DISTINCT FROM EXCLUDED.name`, w.ws, upIDs, upNames)
		if err != nil {
			return fmt.Errorf("upsert integrations: %w", err)
		}
	}
	if renamed {
		if err := renameChange(ctx, tx, w.ws); err != nil {
			return err
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	jobIDs := make([]uuid.UUID, 0, len(jobs))
	for id := range jobs {
		jobIDs = append(jobIDs, id)
	}
	slices.SortFunc(jobIDs, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	jobInts := make([]uuid.UUID, len(jobIDs))
	jobFirst := make([]time.Time, len(jobIDs))
	for i, id := range jobIDs {
		jobInts[i], jobFirst[i] = jobs[id].integration, jobs[id].first
	}
	// A job's created_at is its earliest delivery's, whatever order the deliveries
	// arrive in: a job's logs never precede it, which bounds its nested pages in time
	// (LogStore.childRows).
	_, err = tx.Exec(ctx, `
		INSERT INTO integration_jobs (workspace_id, id, integration_id, created_at)
		SELECT $1, u.id, u.integration_id, u.created_at FROM unnest($2::uuid[], $3::uuid[], $4::timestamptz[]) AS u(id, integration_id, created_at)
		ON CONFLICT (workspace_id, id) DO UPDATE SET created_at = EXCLUDED.created_at
		WHERE EXCLUDED.created_at < integration_jobs.created_at`, w.ws, jobIDs, jobInts, jobFirst)
	if err != nil {
		return fmt.Errorf("upsert jobs: %w", err)
	}
	// A job stored earlier under another integration contradicts the batch.
	rows, err = tx.Query(ctx, `SELECT id, integration_id FROM integration_jobs
		WHERE workspace_id = $1 AND id = ANY($2)`, w.ws, jobIDs)
	if err != nil {
		return fmt.Errorf("check jobs: %w", err)
	}
	owner := make(map[uuid.UUID]uuid.UUID)
	for rows.Next() {
		var id, integ uuid.UUID
		if err := rows.Scan(&id, &integ); err != nil {
			rows.Close()
			return fmt.Errorf("check jobs: %w", err)
		}
		owner[id] = integ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check jobs: %w", err)
	}
	for _, r := range w.b.Integration {
		if r.Log.JobID != nil && owner[*r.Log.JobID] != r.Log.IntegrationID {
			addBad(&bad, r.Line, fmt.Sprintf("field \"job_id\": job %s belongs to integration %s, not %s",
				r.Log.JobID, owner[*r.Log.JobID], r.Log.IntegrationID))
		}
	}
	if bad.Total > 0 {
		return &bad
	}
	return nil
}

func (w *batchWriter) syncReferencesAndUsers(ctx context.Context, tx pgx.Tx) error {
	refs := make(map[string]*string)
	users := make(map[string]*string)
	for _, r := range w.b.APIReference {
		setName(refs, r.Log.APIReferenceID, r.APIReferenceName)
		name := r.UserName
		users[r.Log.UserID] = &name
	}
	if err := syncTextKeyed(ctx, tx, "api_references", w.ws, refs); err != nil {
		return err
	}
	return syncTextKeyed(ctx, tx, "team_accounts", w.ws, users)
}

// syncTextKeyed upserts (id, name) rows of a table keyed by a client-chosen text id;
// a nil name never overwrites a stored one.
func syncTextKeyed(ctx context.Context, tx pgx.Tx, table string, ws uuid.UUID, want map[string]*string) error {
	ids := sortedKeys(want)
	tbl := pgx.Identifier{table}.Sanitize()
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, name FROM %s WHERE workspace_id = $1 AND id = ANY($2)`, tbl), ws, ids)
	if err != nil {
		return fmt.Errorf("select %s: %w", table, err)
	}
	stored := make(map[string]*string)
	for rows.Next() {
		var id string
		var name *string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return fmt.Errorf("select %s: %w", table, err)
		}
		stored[id] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select %s: %w", table, err)
	}
	var upIDs []string
	var upNames []*string
	renamed := false
	for _, id := range ids {
		cur, ok := stored[id]
		if n := want[id]; !ok || (n != nil && (cur == nil || *cur != *n)) {
			upIDs, upNames = append(upIDs, id), append(upNames, n)
			renamed = renamed || ok
		}
	}
	if len(upIDs) == 0 {
		return nil
	}
	if renamed {
		if err := renameChange(ctx, tx, ws); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, fmt.Sprintf(`
		INSERT INTO %[1]s AS t (workspace_id, id, name)
		SELECT $1, u.id, u.name FROM unnest($2::text[], $3::text[]) AS u(id, name)
		ON CONFLICT (workspace_id, id) DO UPDATE SET name = EXCLUDED.name
		WHERE EXCLUDED.name IS NOT NULL AND t.name IS DISTINCT FROM EXCLUDED.name`, tbl), ws, upIDs, upNames)
	if err != nil {
		return fmt.Errorf("upsert %s: %w", table, err)
	}
	return nil
}

// renameChange records, in the batch's transaction, that a named entity of
// workspace ws (an integration, an API reference, a team account) got another name:
// facets name their values, so every cached facet of the workspace is read again
// (a change over all times; renames are rare).
func renameChange(ctx context.Context, tx pgx.Tx, ws uuid.UUID) error {
	if _, err := tx.Exec(ctx, changeSQL+` VALUES ($1, '-infinity', 'infinity')`, ws); err != nil {
		return fmt.Errorf("record a rename: %w", err)
	}
	return nil
}

// setName records an entity's name: the batch's last non-nil name wins.
func setName[K comparable](names map[K]*string, id K, name *string) {
	if _, seen := names[id]; name != nil || !seen {
		names[id] = name
	}
}

func addBad(b *model.BatchError, line int, msg string) {
	b.Total++
	if len(b.Lines) < model.DefaultMaxErrors {
		b.Lines = append(b.Lines, model.LineError{Line: line, Message: msg})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedUUIDs[V any](m map[uuid.UUID]V) []uuid.UUID {
	keys := make([]uuid.UUID, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return keys
}
