package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// cmdBenchAnalytics measures the analytics root fields over HTTP on a workspace
// seeded once with rows logs spread over 30 days (bench-analytics-<rows>).
func cmdBenchAnalytics(ctx context.Context, dbURL string, rows, requests int, stdout io.Writer) error {
	a, closeApp, err := benchApp(ctx, dbURL)
	if err != nil {
		return err
	}
	defer closeApp()
	slug := fmt.Sprintf("bench-analytics-%d", rows)
	ws, err := db.NewWorkspaceStore(a.DB.Bun).BySlug(ctx, slug)
	if err != nil {
		if ws, err = db.NewWorkspaceStore(a.DB.Bun).Create(ctx, slug, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeding %d rows over 30 days into workspace %s...\n", rows, slug)
		res, err := db.Seed(ctx, a.DB, a.Parts, ws.ID, db.SeedOptions{Rows: rows, Days: 30})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded in %s\n", res.Duration.Round(time.Second))
		if _, err := a.DB.Pool.Exec(ctx, "ANALYZE"); err != nil {
			return err
		}
	}
	_, token, err := db.NewTokenStore(a.DB.Bun).Create(ctx, ws.ID, "bench", model.RoleRead)
	if err != nil {
		return err
	}
	// The same queries against a second server of the same database whose analytics
	// read only rows (serve --analytics-rollups=false), interleaved: the rollups'
	// gain measured side by side.
	rowsApp, err := newApp(ctx, serveConfig{DatabaseURL: dbURL, StatementTimeout: time.Hour, RowsOnly: true},
		slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer func() {
		rowsApp.Stop()
		rowsApp.DB.Close()
	}()
	srv, rowsSrv := httptest.NewServer(a.Handler), httptest.NewServer(rowsApp.Handler)
	defer srv.Close()
	defer rowsSrv.Close()
	send := func(srv *httptest.Server, query string) error {
		body, _ := json.Marshal(map[string]any{"query": query})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		reply, err := io.ReadAll(resp.Body)
		if err == nil && (resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"errors":`))) {
			err = fmt.Errorf("%d %s", resp.StatusCode, reply)
		}
		return err
	}
	queries := []struct{ name, query string }{
		{"logHistogram, 24 h, all kinds (auto interval)", `{ logHistogram(filter: {time: {last: "24h"}}) { interval buckets { start count bySeverity { severity count } } } }`},
		{"logHistogram, 30 days, 1 d buckets, Europe/Berlin", `{ logHistogram(filter: {time: {last: "30d"}}, interval: "1d", timeZone: "Europe/Berlin") { buckets { start count bySeverity { severity count } } } }`},
		{"logFacets, 24 h, SOURCE SEVERITY KIND", `{ logFacets(filter: {time: {last: "24h"}}, fields: [SOURCE, SEVERITY, KIND]) { field otherCount values { value count } } }`},
		{"apiRequestStats by ENDPOINT, 7 days, ordered by p95", `{ apiRequestStats(filter: {time: {last: "7d"}}, groupBy: [ENDPOINT], orderBy: {field: TIMING_P95}) { rows { endpoint other count errorRate timing { p50 p95 p99 } delay { p95 } } } }`},
		{"logPatterns, 24 h", `{ logPatterns(filter: {time: {last: "24h"}}) { pattern count severity } }`},
	}
	fmt.Fprintf(stdout, "%d requests each after 3 warm-up requests, the two servers alternating (which goes first too); milliseconds\n"+
		"| query | p50 | p95 | max | rows only: p50 | p95 | p50 ratio |\n|---|---|---|---|---|---|---|\n", requests)
	for _, q := range queries {
		var ms, rowsMs []float64
		for i := 0; i < requests+3; i++ {
			for j := range 2 {
				target, into := srv, &ms
				if (i+j)%2 == 1 {
					target, into = rowsSrv, &rowsMs
				}
				start := time.Now()
				if err := send(target, q.query); err != nil {
					return fmt.Errorf("%s: %w", q.name, err)
				}
				if i >= 3 {
					*into = append(*into, msOf(time.Since(start)))
				}
			}
		}
		fmt.Fprintf(stdout, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx |\n", q.name, pct(ms, 50), pct(ms, 95), pct(ms, 100),
			pct(rowsMs, 50), pct(rowsMs, 95), pct(rowsMs, 50)/pct(ms, 50))
	}
	return nil
}
