package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/app"
	"github.com/loggraph/loggraph/model"
)

// benchExportWorkspace holds the export benchmark's data: enough rows that one kind
// (app logs, 40% of a seed) reaches exportRows.
const benchExportWorkspace = "bench-export"

// cmdBenchShims measures each REST shim's first page on the read benchmark's
// workspace (1M rows), and the streamed exports of a million rows of one kind with
// the process's peak RSS growth.
func cmdBenchShims(ctx context.Context, dbURL string, rows, requests, exportRows int, stdout io.Writer) error {
	a, closeApp, err := benchApp(ctx, dbURL)
	if err != nil {
		return err
	}
	defer closeApp()
	ws, err := seededWorkspace(ctx, a, benchReadWorkspace, rows, stdout)
	if err != nil {
		return err
	}
	_, token, err := db.NewTokenStore(a.DB.Bun).Create(ctx, ws.ID, "bench", model.RoleRead)
	if err != nil {
		return err
	}
	ents := db.NewEntityStore(a.DB.Bun)
	refs, _, err := ents.ListAPIReferences(ctx, ws.ID, model.Page{Limit: 1})
	if err != nil || len(refs) == 0 {
		return fmt.Errorf("no api reference to benchmark (%v)", err)
	}
	integrations, _, err := ents.ListIntegrations(ctx, ws.ID, model.Page{Limit: 1})
	if err != nil || len(integrations) == 0 {
		return fmt.Errorf("no integration to benchmark (%v)", err)
	}
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	get := func(path string, header ...string) (int, error) { return getBytes(ctx, srv, path, header...) }
	bearer := []string{"Authorization", "Bearer " + token}
	shims := []struct {
		name, path string
		header     []string
	}{
		{"000 Document360 logs of one API reference", "/v2/APIReferences/" + refs[0].ID + "/Logs", []string{"api_token", token}},
		{"001 Elastic Path logs of one integration (results.total)", "/integrations/" + integrations[0].ID.String() + "/logs", bearer},
		{"001 Elastic Path logs of the store (results.total)", "/integrations/logs", bearer},
		{"002 generic /logs (pagination.total)", "/logs", bearer},
		{"002 generic /logs?level=ERROR&service=auth (pagination.total)", "/logs?level=ERROR&service=auth", bearer},
		{"003 /api-logs (last 30 days)", "/api-logs", bearer},
		{"004 Akinon action_log (count, next)", "/api/v1/oms/logs/action_log/", []string{"Authorization", "Token " + token}},
	}
	fmt.Fprintf(stdout, "first pages, %d requests each after 20 warm-up requests; milliseconds\n", requests)
	fmt.Fprintf(stdout, "| shim request | p50 | p95 |\n|---|---|---|\n")
	for _, s := range shims {
		var ms []float64
		for i := 0; i < requests+20; i++ {
			start := time.Now()
			if _, err := get(s.path, s.header...); err != nil {
				return err
			}
			if i >= 20 {
				ms = append(ms, msOf(time.Since(start)))
			}
		}
		fmt.Fprintf(stdout, "| %s | %.2f | %.2f |\n", s.name, pct(ms, 50), pct(ms, 95))
	}

	if exportRows <= 0 {
		return nil
	}
	ews, err := seededWorkspace(ctx, a, benchExportWorkspace, exportRows*5/2, stdout)
	if err != nil {
		return err
	}
	_, etoken, err := db.NewTokenStore(a.DB.Bun).Create(ctx, ews.ID, "bench", model.RoleRead)
	if err != nil {
		return err
	}
	appRows, err := db.NewLogStore(a.DB.Bun).Count(ctx, ews.ID, model.KindApp, (*model.AppLogFilter)(nil))
	if err != nil {
		return err
	}
	const exportRounds = 3
	fmt.Fprintf(stdout, "\nexports of %d app logs, %d rounds per format\n| format | median seconds | median rows/s | bytes | largest peak RSS growth MB |\n|---|---|---|---|---|\n",
		appRows, exportRounds)
	for _, format := range []string{"csv", "ndjson"} {
		var secs []float64
		var bytes int
		var growth int64
		for r := 0; r < exportRounds; r++ {
			base, err := rssKB()
			if err != nil {
				return err
			}
			if err := resetPeakRSS(); err != nil {
				return err
			}
			start := time.Now()
			if bytes, err = get("/v1/export/app."+format, "Authorization", "Bearer "+etoken); err != nil {
				return err
			}
			secs = append(secs, time.Since(start).Seconds())
			peak, err := peakRSSKB()
			if err != nil {
				return err
			}
			growth = max(growth, peak-base)
		}
		m := median(secs)
		fmt.Fprintf(stdout, "| %s | %.2f | %.0f | %d | %.1f |\n", format, m, float64(appRows)/m, bytes, float64(growth)/1024)
	}
	return nil
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// seededWorkspace returns the workspace slug, seeding it with rows first if it is new.
// getBytes GETs path from srv with the header pairs given and returns the size of
// the reply's body, which must be a 200.
func getBytes(ctx context.Context, srv *httptest.Server, path string, header ...string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return int(n), err
}

// benchApp wires a server over dbURL for a benchmark: statements may run an hour,
// its logs are discarded; closeApp stops it and closes the database.
func benchApp(ctx context.Context, dbURL string) (a *app.App, closeApp func(), err error) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if a, err = newApp(ctx, serveConfig{DatabaseURL: dbURL, StatementTimeout: time.Hour}, log); err != nil {
		return nil, nil, err
	}
	return a, func() {
		a.Stop()
		a.DB.Close()
	}, nil
}

// readServer serves a over HTTP for the benchmark's client, with a read token of ws.
func readServer(ctx context.Context, a *app.App, ws uuid.UUID) (srv *httptest.Server, token string, err error) {
	if _, token, err = db.NewTokenStore(a.DB.Bun).Create(ctx, ws, "bench", model.RoleRead); err != nil {
		return nil, "", err
	}
	return httptest.NewServer(a.Handler), token, nil
}

func seededWorkspace(ctx context.Context, a *app.App, slug string, rows int, stdout io.Writer) (*model.Workspace, error) {
	wss := db.NewWorkspaceStore(a.DB.Bun)
	ws, err := wss.BySlug(ctx, slug)
	if err == nil || !errors.Is(err, db.ErrNotFound) {
		return ws, err
	}
	if ws, err = wss.Create(ctx, slug, ""); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "seeding %d rows into workspace %s...\n", rows, slug)
	if _, err := db.Seed(ctx, a.DB, a.Parts, ws.ID, db.SeedOptions{Rows: rows, Days: 7}); err != nil {
		return nil, err
	}
	_, err = a.DB.Pool.Exec(ctx, "ANALYZE")
	return ws, err
}

// The process's resident set size, from /proc (the server runs in this process; the
// client discards what it reads).
func rssKB() (int64, error)     { return procStatusKB("VmRSS:") }
func peakRSSKB() (int64, error) { return procStatusKB("VmHWM:") }

// resetPeakRSS restarts VmHWM from the current RSS (Linux: clear_refs 5).
func resetPeakRSS() error { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func procStatusKB(field string) (int64, error) { return procKB("self", field) }
