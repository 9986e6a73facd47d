package rest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// TestOneNotifyPerCommittedBatch listens like the live tail will: a stored batch
// sends exactly one notification, a rejected one none.
func TestOneNotifyPerCommittedBatch(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.DB.Pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+db.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat(goodApp+"\n", 300)
	if resp, reply := e.Ingest("app", e.Tokens[model.RoleIngest], body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, reply)
	}
	if resp, _ := e.Ingest("app", e.Tokens[model.RoleIngest], goodApp+"\n{}"); resp.StatusCode != 400 {
		t.Fatal("bad batch accepted")
	}
	wait, cancel := context.WithTimeout(ctx, testwait.Safety)
	defer cancel()
	n, err := conn.WaitForNotification(wait)
	if err != nil {
		t.Fatal(err)
	}
	var notice db.BatchNotice
	if err := json.Unmarshal([]byte(n.Payload), &notice); err != nil {
		t.Fatal(err)
	}
	if notice.WorkspaceID != e.WS || notice.Kind != model.KindApp || notice.Count != 300 || notice.Batch <= 0 ||
		!notice.From.Equal(time.Date(2023, 10, 27, 10, 35, 15, 0, time.UTC)) {
		t.Fatalf("notice %+v", notice)
	}
	// The notice's batch id picks exactly the batch's rows.
	var inBatch int
	if err := e.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM app_logs WHERE workspace_id = $1 AND batch_id = $2
		AND "timestamp" BETWEEN $3 AND $4`, e.WS, notice.Batch, notice.From, notice.To).Scan(&inBatch); err != nil || inBatch != 300 {
		t.Fatalf("%d rows of batch %d (%v)", inBatch, notice.Batch, err)
	}
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if extra, err := conn.WaitForNotification(short); err == nil {
		t.Fatalf("a second notification: %s", extra.Payload)
	}
}

// TestEntityNamesFollowTheLatestRecord: a new name updates the entity, a record
// without a name leaves it alone, a collection's type follows the latest record.
func TestEntityNamesFollowTheLatestRecord(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	tok := e.Tokens[model.RoleIngest]
	integ := `{"integration_id":"ff8634a8-a89e-4eac-baab-9b7b8c4f8720",%s"succeeded":true,"attempt":1,"status_code":200}`
	for _, name := range []string{`"integration_name":"Old",`, `"integration_name":"New",`, ``} {
		if resp, body := e.Ingest("integration", tok, strings.Replace(integ, "%s", name, 1)); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	var name string
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT name FROM integrations").Scan(&name); err != nil || name != "New" {
		t.Fatalf("integration name %q (%v), want New", name, err)
	}
	req := strings.Replace(goodAPIRequest, `"collection_type":"recipe"`, `"collection_type":"proxy"`, 1)
	if resp, body := e.Ingest("api-request", tok, goodAPIRequest+"\n"+req); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var typ string
	var count int
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT type, count(*) OVER () FROM api_collections").Scan(&typ, &count); err != nil || typ != "proxy" || count != 1 {
		t.Fatalf("collection %q x%d (%v)", typ, count, err)
	}
	ref := strings.Replace(strings.Replace(goodAPIRef, `"user_name":"Peter Jone"`, `"user_name":"Peter Jones"`, 1), `"logs_id":"33b5c7e-fcbe-4797-b144-1a7ca2508f44",`, ``, 1)
	if resp, body := e.Ingest("api-reference", tok, goodAPIRef+"\n"+ref); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT name FROM team_accounts").Scan(&name); err != nil || name != "Peter Jones" {
		t.Fatalf("user name %q (%v)", name, err)
	}
}

// TestTokenCacheMetrics: /metrics counts the principal cache's hits, misses and
// entries once the revocation listener has turned it on.
func TestTokenCacheMetrics(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	testwait.Until(t, "the token cache to turn on", func() bool { return metric(t, e, "loggraph_token_cache_on") == "1" })
	for range 2 {
		if resp, body := e.Ingest("action", e.Tokens[model.RoleIngest], goodAction); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	for series, want := range map[string]string{
		"loggraph_token_cache_hits_total":     "1",
		"loggraph_token_cache_misses_total":   "1",
		"loggraph_token_cache_bypasses_total": "0",
		"loggraph_token_cache_entries":        "1",
	} {
		t.Run(series, func(t *testing.T) {
			if got := metric(t, e, series); got != want {
				t.Fatalf("%q, want %s", got, want)
			}
		})
	}
}

func TestHealthReadinessMetrics(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	if resp, body := e.Do(http.MethodGet, "/healthz", nil); resp.StatusCode != 200 || body != "{\"status\":\"ok\"}\n" {
		t.Fatalf("healthz %d %s", resp.StatusCode, body)
	}
	if resp, body := e.Do(http.MethodGet, "/readyz", nil); resp.StatusCode != 200 || body != "{\"status\":\"ready\"}\n" {
		t.Fatalf("readyz %d %s", resp.StatusCode, body)
	}
	e.Ingest("action", e.Tokens[model.RoleIngest], goodAction)
	resp, body := e.Do(http.MethodGet, "/metrics", nil)
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	for _, want := range []string{
		`loggraph_ingested_rows_total{kind="action"} 1`,
		`loggraph_ingested_rows_total{kind="app"} 0`,
		`loggraph_ingest_batches_total{kind="action",outcome="stored"} 1`,
		`loggraph_http_requests_total{code="200",method="POST",route="POST /v1/ingest/{kind}"} 1`,
		`loggraph_http_request_duration_seconds_count{method="POST",route="POST /v1/ingest/{kind}"} 1`,
		`loggraph_db_pool_connections{state="idle"}`,
		`loggraph_db_pool_max_connections`,
		`loggraph_tail_subscribers 0`,
		`loggraph_tail_backlog_notices 0`,
		`loggraph_tail_pending_logs 0`,
		`loggraph_tail_reads_total 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Readiness fails when a migration is missing.
	if _, err := e.DB.Pool.Exec(context.Background(), "DELETE FROM bun_migrations"); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.Do(http.MethodGet, "/readyz", nil); resp.StatusCode != 503 || !strings.Contains(body, "migrations pending") {
		t.Fatalf("readyz after losing migrations: %d %s", resp.StatusCode, body)
	}
}

// TestLastUsedIsNotWrittenEveryRequest: last_used_at is set by the first request and
// left alone by the next ones within a minute.
func TestLastUsedIsNotWrittenEveryRequest(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	tok := e.Tokens[model.RoleIngest]
	lastUsed := func() (time.Time, int64) {
		var at time.Time
		var xmin int64
		if err := e.DB.Pool.QueryRow(context.Background(),
			"SELECT last_used_at, xmin::text::bigint FROM api_tokens WHERE name = 'ingest'").Scan(&at, &xmin); err != nil {
			t.Fatal(err)
		}
		return at, xmin
	}
	e.Ingest("app", tok, goodApp)
	at1, x1 := lastUsed()
	for i := 0; i < 5; i++ {
		e.Ingest("app", tok, goodApp)
	}
	at2, x2 := lastUsed()
	if !at1.Equal(at2) || x1 != x2 {
		t.Fatalf("the token row was rewritten: %v/%d -> %v/%d", at1, x1, at2, x2)
	}
}

// TestStorageMetrics: /metrics carries each kind's table bytes and partitions, and
// rows and bytes per kind and workspace, as read every --storage-metrics-interval.
func TestStorageMetrics(t *testing.T) {
	t.Parallel()
	e := testserver.NewEnv(t, testserver.Options{StorageMetrics: 20 * time.Millisecond})
	if resp, body := e.Ingest("app", e.Tokens[model.RoleIngest], goodApp); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	testwait.Until(t, "the storage metrics to count the app log", func() bool {
		return metric(t, e, `loggraph_storage_rows{kind="app",workspace="acme"}`) == "1"
	})
	var parts int
	if err := e.DB.Pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_inherits WHERE inhparent = 'app_logs'::regclass").Scan(&parts); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		series string
		check  func(float64) bool
	}{
		{`loggraph_storage_partitions{kind="app"}`, func(v float64) bool { return v == float64(parts) && parts > 0 }},
		{`loggraph_storage_table_bytes{kind="app"}`, func(v float64) bool { return v > 0 }},
		{`loggraph_storage_bytes{kind="app",workspace="acme"}`, func(v float64) bool { return v > 0 }},
		{`loggraph_storage_refreshed_timestamp_seconds`, func(v float64) bool { return v > 1e9 }},
	} {
		t.Run(c.series, func(t *testing.T) {
			got := metric(t, e, c.series)
			v, err := strconv.ParseFloat(got, 64)
			if err != nil || !c.check(v) {
				t.Fatalf("%s = %q (%d app partitions)", c.series, got, parts)
			}
		})
	}
	if got := metric(t, e, `loggraph_storage_rows{kind="action",workspace="acme"}`); got != "" {
		t.Errorf("a kind without rows has a rows series: %q", got)
	}
}

// TestStorageMetricsOff: without an interval no storage series is exported.
func TestStorageMetricsOff(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	if got := metric(t, e, `loggraph_storage_partitions{kind="app"}`); got != "" {
		t.Fatalf("storage metrics exported while off: %q", got)
	}
}
