package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db/dbtest"
)

// logPartitions counts the partitions of every log table: daily ones and coarser
// (monthly or yearly) ones.
func logPartitions(t *testing.T, dbURL string) (daily, coarser map[string]int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT p.relname, c.relname ~ '_p[0-9]{8}$' FROM pg_inherits i
		JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid WHERE p.relname LIKE '%\_logs'`)
	if err != nil {
		t.Fatal(err)
	}
	daily, coarser = map[string]int{}, map[string]int{}
	var table string
	var isDaily bool
	_, err = pgx.ForEachRow(rows, []any{&table, &isDaily}, func() error {
		if isDaily {
			daily[table]++
		} else {
			coarser[table]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return daily, coarser
}

var logTables = []string{"app_logs", "api_request_logs", "integration_logs", "action_logs", "api_reference_logs"}

// TestSeedDailyPartitionDays: rows seeded over 20 days get a daily partition per day
// with --daily-partition-days 20 (or its environment variable); by default only the
// last week's days do, and older days share monthly partitions.
func TestSeedDailyPartitionDays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		args    []string
		env     map[string]string
		daily   int  // per log table: the days from N days ago to today
		coarser bool // older days in monthly partitions
	}{
		{name: "default", daily: 8, coarser: true},
		{name: "flag", args: []string{"--daily-partition-days", "20"}, daily: 21},
		{name: "environment", env: map[string]string{envDailyPartitionDays: "20"}, daily: 21},
		{name: "flag over environment", args: []string{"--daily-partition-days", "20"}, env: map[string]string{envDailyPartitionDays: "3"}, daily: 21},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u := dbtest.NewURL(t)
			args := append([]string{"seed", "--workspace", "w", "--create", "--rows", "300", "--days", "20"}, c.args...)
			if out, err := cliEnv(u, c.env, args...); err != nil {
				t.Fatalf("seed: %v\n%s", err, out)
			}
			daily, coarser := logPartitions(t, u)
			for _, table := range logTables {
				if daily[table] != c.daily {
					t.Errorf("%s: %d daily partitions, want %d", table, daily[table], c.daily)
				}
				if (coarser[table] > 0) != c.coarser {
					t.Errorf("%s: %d monthly or yearly partitions, want some: %v", table, coarser[table], c.coarser)
				}
			}
		})
	}
}

// TestDailyPartitionDaysRefused: seed and serve refuse a daily range outside
// 1..3650 days, from the flag or the environment, before touching the database.
func TestDailyPartitionDaysRefused(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	rangeErr := func(n int) string {
		return fmt.Sprintf("--daily-partition-days (env LOGGRAPH_DAILY_PARTITION_DAYS): daily partitions must cover 1 to 3650 days, not %d", n)
	}
	for _, c := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"seed 0", []string{"seed", "--workspace", "w", "--create", "--daily-partition-days", "0"}, "", rangeErr(0)},
		{"seed 3651", []string{"seed", "--workspace", "w", "--create", "--daily-partition-days", "3651"}, "", rangeErr(3651)},
		{"seed not a number", []string{"seed", "--workspace", "w", "--create", "--daily-partition-days", "ten"}, "",
			`invalid value "ten" for flag -daily-partition-days: parse error`},
		{"seed environment", []string{"seed", "--workspace", "w"}, "-2", rangeErr(-2)},
		{"serve negative", []string{"serve", "--daily-partition-days", "-1"}, "", rangeErr(-1)},
		{"serve environment", []string{"serve"}, "4000", rangeErr(4000)},
		{"serve environment not a number", []string{"serve"}, "7d", `LOGGRAPH_DAILY_PARTITION_DAYS: "7d" is not a whole number of days`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := cliEnv(u, map[string]string{envDailyPartitionDays: c.env}, c.args...)
			if _, ok := err.(usageError); !ok || err.Error() != c.want {
				t.Fatalf("error %v (%T), want the usage error %q", err, err, c.want)
			}
		})
	}
	// Refused before connecting: the database is as the template left it.
	if got := workspaceSlugs(t, u); len(got) != 0 {
		t.Fatalf("workspaces %v, want none", got)
	}
}

// TestServeDailyPartitionDays: a server started with --daily-partition-days 30 gives
// a log of 20 days ago a daily partition (by default it would share a monthly one).
func TestServeDailyPartitionDays(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	tok := acmeIngestToken(t, u)
	base, _, stop := server(t, u, "--daily-partition-days", "30")
	ts := time.Now().UTC().AddDate(0, 0, -20)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/ingest/app", strings.NewReader(
		fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`, ts.Format(time.RFC3339))))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var partition string
	if err := conn.QueryRow(context.Background(), "SELECT tableoid::regclass::text FROM app_logs").Scan(&partition); err != nil {
		t.Fatal(err)
	}
	if want := "app_logs_p" + ts.Format("20060102"); partition != want {
		t.Fatalf("the log is in partition %s, want the daily %s", partition, want)
	}
}
