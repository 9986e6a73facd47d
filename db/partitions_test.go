package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// TestPartitionsOnDemand checks that any day gets a partition with the parent's
// indexes, and that servers racing to create the same day do not fail.
func TestPartitionsOnDemand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	day := time.Date(2019, 2, 28, 23, 59, 59, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate managers: separate caches, like separate servers.
			errs <- db.NewPartitions(d).Ensure(ctx, model.KindAPIRequest, []time.Time{day, day.Add(time.Second)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var parts, indexes int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'api_request_logs'::regclass AND c.relname IN ('api_request_logs_p20190228', 'api_request_logs_p20190301')`).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts != 2 {
		t.Fatalf("%d partitions, want 2 (one per day touched)", parts)
	}
	var parentIndexes int
	if err := d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_indexes WHERE tablename = 'api_request_logs_p20190228'),
		(SELECT count(*) FROM pg_indexes WHERE tablename = 'api_request_logs')`).Scan(&indexes, &parentIndexes); err != nil {
		t.Fatal(err)
	}
	if indexes != parentIndexes || indexes < 2 {
		t.Fatalf("partition has %d indexes, want the parent's %d", indexes, parentIndexes)
	}
	var severity int
	if _, err := d.Pool.Exec(ctx, `INSERT INTO api_request_logs (workspace_id, id, received_at, code, ip, timing_ms, delay_ms, collection_id, endpoint)
		VALUES (gen_random_uuid(), gen_random_uuid(), $1, 503, '::1', 1, 0, 1, 'e')`, day); err != nil {
		t.Fatal(err)
	}
	if err := d.Pool.QueryRow(ctx, "SELECT severity FROM api_request_logs_p20190228").Scan(&severity); err != nil || severity != 4 {
		t.Fatalf("generated severity %d (%v), want 4", severity, err)
	}
}
