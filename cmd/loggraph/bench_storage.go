package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// benchStorageWorkspace is the one workspace bench storage fills.
const benchStorageWorkspace = "bench-storage"

// cmdBenchStorage seeds rows (all five kinds) into a database that holds no logs,
// vacuums, and prints per kind the bytes per row on disk (heap, each index, total)
// against the same rows as raw NDJSON (as /v1/export/{kind}.ndjson writes them).
// It needs a database of its own: every byte of the log tables is counted.
func cmdBenchStorage(ctx context.Context, dbURL string, rows int, stdout io.Writer) error {
	a, closeApp, err := benchApp(ctx, dbURL)
	if err != nil {
		return err
	}
	defer closeApp()
	for _, k := range model.AllKinds {
		ts, err := db.MeasureTable(ctx, a.DB, k)
		if err != nil {
			return err
		}
		if ts.Rows > 0 {
			return fmt.Errorf("bench storage measures whole tables and needs a database without logs; %s holds %d rows (drop the database, or give another --storage-database-url)", k.Table(), ts.Rows)
		}
	}
	ws, err := db.NewWorkspaceStore(a.DB.Bun).Create(ctx, benchStorageWorkspace, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "machine: %s/%s, %d CPUs, %s\nseeding %d rows over 7 days...\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), rows)
	if _, err := db.Seed(ctx, a.DB, a.Parts, ws.ID, db.SeedOptions{Rows: rows, Days: 7}); err != nil {
		return err
	}
	if err := db.VacuumLogTables(ctx, a.DB); err != nil {
		return err
	}
	srv, token, err := readServer(ctx, a, ws.ID)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintln(stdout, "\n| kind | rows | raw NDJSON B/row | heap B/row | indexes B/row | total B/row | total / raw |\n|---|---|---|---|---|---|---|")
	var details []string
	for _, k := range model.AllKinds {
		ts, err := db.MeasureTable(ctx, a.DB, k)
		if err != nil {
			return err
		}
		raw, err := getBytes(ctx, srv, "/v1/export/"+k.Route()+".ndjson?time.from=2000-01-01T00:00:00Z", "Authorization", "Bearer "+token)
		if err != nil {
			return err
		}
		n := float64(max(ts.Rows, 1))
		var idx int64
		for _, ix := range ts.Indexes {
			idx += ix.Bytes
			details = append(details, fmt.Sprintf("| %s | %s | %.0f |", k.Route(), ix.Name, float64(ix.Bytes)/n))
		}
		total := ts.Heap + idx
		fmt.Fprintf(stdout, "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.2f |\n", k.Route(), ts.Rows, float64(raw)/n,
			float64(ts.Heap)/n, float64(idx)/n, float64(total)/n, float64(total)/float64(max(int64(raw), 1)))
	}
	fmt.Fprintln(stdout, "\n| kind | index | B/row |\n|---|---|---|")
	for _, l := range details {
		fmt.Fprintln(stdout, l)
	}
	return nil
}
