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
	// A recent day: it gets a daily partition (older ones get monthly or yearly ones).
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3).Add(24*time.Hour - time.Second)
	name0 := "api_request_logs_p" + day.Format("20060102")
	name1 := "api_request_logs_p" + day.Add(time.Second).Format("20060102")
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
		WHERE i.inhparent = 'api_request_logs'::regclass AND c.relname IN ($1, $2)`, name0, name1).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts != 2 {
		t.Fatalf("%d partitions, want 2 (one per day touched)", parts)
	}
	var parentIndexes int
	if err := d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_indexes WHERE tablename = $1),
		(SELECT count(*) FROM pg_indexes WHERE tablename = 'api_request_logs')`, name0).Scan(&indexes, &parentIndexes); err != nil {
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
	if err := d.Pool.QueryRow(ctx, "SELECT severity FROM "+name0).Scan(&severity); err != nil || severity != 4 {
		t.Fatalf("generated severity %d (%v), want 4", severity, err)
	}
}
