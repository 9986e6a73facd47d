package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	wss := db.NewWorkspaceStore(d.Bun)
	ws, err := wss.Create(ctx, "seeded", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := wss.Create(ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	parts := db.NewPartitions(d)
	now := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	opts := db.SeedOptions{Rows: 5000, Days: 3, Now: now}

	// The other workspace is seeded first, so that its rows exist while ws is seeded.
	if _, err := db.Seed(ctx, d, parts, other.ID, db.SeedOptions{Rows: 500, Now: now}); err != nil {
		t.Fatalf("seed other: %v", err)
	}
	otherCounts := seedCountRows(t, d, other.ID)

	res, err := db.Seed(ctx, d, parts, ws.ID, opts)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	counts := seedCountRows(t, d, ws.ID)
	total := 0
	for _, k := range model.AllKinds {
		if res.Rows[k] != counts[k] {
			t.Errorf("%s: result says %d rows, table has %d", k, res.Rows[k], counts[k])
		}
		if counts[k] == 0 {
			t.Errorf("%s: no rows", k)
		}
		total += counts[k]
	}
	if total != opts.Rows {
		t.Errorf("total rows %d, want %d", total, opts.Rows)
	}

	t.Run("entities", func(t *testing.T) {
		for _, c := range []struct {
			table string
			min   int
		}{
			{"api_collections", 8}, {"api_clients", 10}, {"integrations", 10}, {"integration_jobs", 100},
			{"api_references", 10}, {"team_accounts", 8},
		} {
			t.Run(c.table, func(t *testing.T) {
				if n := seedQueryInt(t, d, "SELECT count(*) FROM "+c.table+" WHERE workspace_id = $1", ws.ID); n < c.min {
					t.Errorf("%s: %d rows, want at least %d", c.table, n, c.min)
				}
			})
		}
	})

	t.Run("references resolve", func(t *testing.T) {
		for name, q := range map[string]string{
			"collection": `SELECT count(*) FROM api_request_logs l WHERE l.workspace_id = $1 AND NOT EXISTS
				(SELECT 1 FROM api_collections c WHERE c.workspace_id = l.workspace_id AND c.id = l.collection_id)`,
			"client": `SELECT count(*) FROM api_request_logs l WHERE l.workspace_id = $1 AND l.client_id IS NOT NULL AND NOT EXISTS
				(SELECT 1 FROM api_clients c WHERE c.workspace_id = l.workspace_id AND c.id = l.client_id)`,
			"integration": `SELECT count(*) FROM integration_logs l WHERE l.workspace_id = $1 AND NOT EXISTS
				(SELECT 1 FROM integrations i WHERE i.workspace_id = l.workspace_id AND i.id = l.integration_id)`,
			"job": `SELECT count(*) FROM integration_logs l WHERE l.workspace_id = $1 AND NOT EXISTS
				(SELECT 1 FROM integration_jobs j WHERE j.workspace_id = l.workspace_id AND j.id = l.job_id
				AND j.integration_id = l.integration_id)`,
			"api reference": `SELECT count(*) FROM api_reference_logs l WHERE l.workspace_id = $1 AND NOT EXISTS
				(SELECT 1 FROM api_references r WHERE r.workspace_id = l.workspace_id AND r.id = l.api_reference_id)`,
			"user": `SELECT count(*) FROM api_reference_logs l WHERE l.workspace_id = $1 AND NOT EXISTS
				(SELECT 1 FROM team_accounts u WHERE u.workspace_id = l.workspace_id AND u.id = l.user_id)`,
		} {
			if n := seedQueryInt(t, d, q, ws.ID); n != 0 {
				t.Errorf("%d logs refer to a missing %s", n, name)
			}
		}
	})

	t.Run("realistic", func(t *testing.T) {
		reqs := counts[model.KindAPIRequest]
		ok := seedQueryInt(t, d, "SELECT count(*) FROM api_request_logs WHERE workspace_id = $1 AND code BETWEEN 200 AND 299", ws.ID)
		if share := float64(ok) / float64(reqs); share < 0.80 || share > 0.95 {
			t.Errorf("2xx share %.3f, want between 0.80 and 0.95", share)
		}
		for what, q := range map[string]string{
			"app levels":         "SELECT count(DISTINCT level) FROM app_logs WHERE workspace_id = $1",
			"services":           "SELECT count(DISTINCT service) FROM app_logs WHERE workspace_id = $1",
			"endpoints":          "SELECT count(DISTINCT endpoint) FROM api_request_logs WHERE workspace_id = $1",
			"ipv6 requests":      "SELECT count(*) FROM api_request_logs WHERE workspace_id = $1 AND family(ip) = 6",
			"gateway codes":      "SELECT count(*) FROM api_request_logs WHERE workspace_id = $1 AND gateway_code IS NOT NULL",
			"retries":            "SELECT count(*) FROM integration_logs WHERE workspace_id = $1 AND attempt > 1",
			"failed deliveries":  "SELECT count(*) FROM integration_logs WHERE workspace_id = $1 AND NOT succeeded",
			"action tracebacks":  "SELECT count(*) FROM action_logs WHERE workspace_id = $1 AND level >= 40 AND trace LIKE 'Traceback%'",
			"import error lists": "SELECT count(*) FROM api_reference_logs WHERE workspace_id = $1 AND jsonb_array_length(errors) > 0",
		} {
			if n := seedQueryInt(t, d, q, ws.ID); n < 2 {
				t.Errorf("%s: %d, want variety", what, n)
			}
		}
		for what, q := range map[string]string{
			"times outside the range": `SELECT count(*) FROM app_logs WHERE workspace_id = $1
				AND ("timestamp" < $2::timestamptz - interval '3 days' OR "timestamp" >= $2)`,
			"traces below ERROR": "SELECT count(*) FROM action_logs WHERE workspace_id = $1 AND level < 40 AND trace IS NOT NULL",
			"titles contradicting counts": `SELECT count(*) FROM api_reference_logs WHERE workspace_id = $1 AND NOT (
				(title = 'Import successful' AND error_count = 0 AND alerts_count = 0) OR
				(title = 'Import completed with warnings' AND error_count = 0 AND alerts_count > 0) OR
				(title = 'Import failed' AND error_count > 0))`,
			"issue lists not matching counts": `SELECT count(*) FROM api_reference_logs WHERE workspace_id = $1
				AND (jsonb_array_length(errors) <> error_count OR jsonb_array_length(alerts) <> alerts_count)`,
			"succeeded jobs retried after success": `SELECT count(*) FROM integration_logs a JOIN integration_logs b
				ON b.workspace_id = a.workspace_id AND b.job_id = a.job_id AND b.attempt > a.attempt
				WHERE a.workspace_id = $1 AND a.succeeded`,
		} {
			args := []any{ws.ID}
			if what == "times outside the range" {
				args = append(args, now)
			}
			if n := seedQueryInt(t, d, q, args...); n != 0 {
				t.Errorf("%s: %d", what, n)
			}
		}
	})

	t.Run("seeding again adds rows", func(t *testing.T) {
		entities := seedQueryInt(t, d, "SELECT count(*) FROM api_collections WHERE workspace_id = $1", ws.ID)
		again, err := db.Seed(ctx, d, parts, ws.ID, opts)
		if err != nil {
			t.Fatalf("second seed: %v", err)
		}
		after := seedCountRows(t, d, ws.ID)
		for _, k := range model.AllKinds {
			if after[k] != counts[k]+again.Rows[k] || again.Rows[k] != res.Rows[k] {
				t.Errorf("%s: %d rows after reseeding, want %d + %d", k, after[k], counts[k], again.Rows[k])
			}
		}
		// The same options give the same content under new ids.
		if n := seedQueryInt(t, d, `SELECT count(*) FROM (SELECT "timestamp", message FROM app_logs
			WHERE workspace_id = $1 GROUP BY 1, 2 HAVING count(*) <> 2) x`, ws.ID); n != 0 {
			t.Errorf("%d app log (timestamp, message) pairs are not repeated exactly once", n)
		}
		if n := seedQueryInt(t, d, "SELECT count(*) FROM api_collections WHERE workspace_id = $1", ws.ID); n != entities {
			t.Errorf("collections: %d after reseeding, want the same %d", n, entities)
		}
	})

	t.Run("other workspace untouched", func(t *testing.T) {
		got := seedCountRows(t, d, other.ID)
		for _, k := range model.AllKinds {
			if got[k] != otherCounts[k] {
				t.Errorf("%s: other workspace has %d rows, had %d", k, got[k], otherCounts[k])
			}
		}
	})
}

func TestSeedSmall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	ws, err := db.NewWorkspaceStore(d.Bun).Create(ctx, "tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Seed(ctx, d, db.NewPartitions(d), ws.ID, db.SeedOptions{Rows: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range model.AllKinds {
		if res.Rows[k] != 1 {
			t.Errorf("%s: %d rows, want 1", k, res.Rows[k])
		}
	}
	if _, err := db.Seed(ctx, d, db.NewPartitions(d), ws.ID, db.SeedOptions{Rows: -1}); err == nil {
		t.Error("negative rows: want an error")
	}
}

func seedCountRows(t *testing.T, d *db.DB, ws any) map[model.LogKind]int {
	t.Helper()
	counts := make(map[model.LogKind]int)
	for _, k := range model.AllKinds {
		counts[k] = seedQueryInt(t, d, "SELECT count(*) FROM "+k.Table()+" WHERE workspace_id = $1", ws)
	}
	return counts
}

func seedQueryInt(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
