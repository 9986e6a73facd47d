package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// analyticsConfig is what bench analytics takes.
type analyticsConfig struct {
	dbURL          string
	rows, requests int
	// clickHouseURL, when set, adds ClickHouse as a third side (bench_clickhouse.go).
	clickHouseURL string
}

// cmdBenchAnalytics measures the analytics root fields over HTTP on a workspace
// seeded once with rows logs spread over 30 days (bench-analytics-<rows>).
func cmdBenchAnalytics(ctx context.Context, cfg analyticsConfig, stdout io.Writer) error {
	dbURL, rows := cfg.dbURL, cfg.rows
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
		// Vacuumed as well as analyzed, as autovacuum leaves bulk-inserted tables in
		// time: without visibility maps the index-only scans of log_rollups visit the
		// heap (the 24 h histogram took 15x longer at 1M rows before it).
		fmt.Fprintln(stdout, "vacuuming...")
		if _, err := a.DB.Pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
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
	// A third server with the closed-bucket cache (serve's default), for the
	// histograms' dashboard refresh: a window ending at the current time, asked again
	// and again (refreshFigures).
	cacheApp, err := newApp(ctx, serveConfig{DatabaseURL: dbURL, StatementTimeout: time.Hour,
		AnalyticsCache: &db.AnalyticsCacheOptions{}}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer func() {
		cacheApp.Stop()
		cacheApp.DB.Close()
	}()
	srv, rowsSrv, cacheSrv := httptest.NewServer(a.Handler), httptest.NewServer(rowsApp.Handler), httptest.NewServer(cacheApp.Handler)
	defer srv.Close()
	defer rowsSrv.Close()
	defer cacheSrv.Close()
	send := func(srv *httptest.Server, query string) ([]byte, error) {
		body, _ := json.Marshal(map[string]any{"query": query})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		reply, err := io.ReadAll(resp.Body)
		if err == nil && (resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"errors":`))) {
			err = fmt.Errorf("%d %s", resp.StatusCode, reply)
		}
		return reply, err
	}
	var ch *clickHouse
	if cfg.clickHouseURL != "" {
		ch = &clickHouse{url: strings.TrimSuffix(cfg.clickHouseURL, "/"), db: "loggraph_" + strings.ReplaceAll(slug, "-", "_"), client: &http.Client{}}
		if err := ch.fill(ctx, srv, token, ws.ID.String(), stdout); err != nil {
			return err
		}
	}
	// Every side asks about the same windows, ending at a whole second fixed now, so
	// that their answers can be checked equal (ClickHouse keeps whole seconds).
	now := time.Now().UTC().Truncate(time.Second)
	win := func(d time.Duration) chWindow { return chWindow{from: now.Add(-d), to: now} }
	gql := func(w chWindow) string {
		return fmt.Sprintf("{from: %q, to: %q}", w.from.Format(time.RFC3339), w.to.Format(time.RFC3339))
	}
	day, week, month := win(24*time.Hour), win(7*24*time.Hour), win(30*24*time.Hour)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return err
	}
	wsID := ws.ID.String()
	queries := []analyticsQuestion{
		{name: "logHistogram, 24 h, all kinds, 30 min buckets",
			query: `{ logHistogram(filter: {time: ` + gql(day) + `}, interval: "30m") { interval buckets { start count bySeverity { severity count } } } }`,
			answer: func(r []byte) (answer, error) {
				return histogramAnswer(r, func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) })
			}},
		{name: "logHistogram, 30 days, 1 d buckets, Europe/Berlin",
			query: `{ logHistogram(filter: {time: ` + gql(month) + `}, interval: "1d", timeZone: "Europe/Berlin") { buckets { start count bySeverity { severity count } } } }`,
			answer: func(r []byte) (answer, error) {
				return histogramAnswer(r, func(t time.Time) string { return t.In(berlin).Format(time.DateOnly) })
			}},
		{name: "logFacets, 24 h, SOURCE SEVERITY KIND (top 10 each)",
			query:  `{ logFacets(filter: {time: ` + gql(day) + `}, fields: [SOURCE, SEVERITY, KIND]) { field otherCount values { value count } } }`,
			answer: facetsAnswer},
		{name: "apiRequestStats by ENDPOINT, 7 days, ordered by p95",
			query:  `{ apiRequestStats(filter: {time: ` + gql(week) + `}, groupBy: [ENDPOINT], orderBy: {field: TIMING_P95}) { rows { endpoint other count errorCount errorRate timing { p50 p95 p99 } delay { p95 } } } }`,
			answer: statsAnswer},
		{name: "logPatterns, 24 h (first 20)",
			query:  `{ logPatterns(filter: {time: ` + gql(day) + `}) { pattern count severity } }`,
			answer: patternsAnswer},
	}
	if ch != nil {
		queries[0].ch = []chQuestion{{sql: ch.chHistogram(wsID, day, "intDiv(toUInt32(t), 1800) * 1800"), answer: chHistogramAnswer}}
		queries[1].ch = []chQuestion{{sql: ch.chHistogram(wsID, month, "toDate(t, 'Europe/Berlin')"), answer: chHistogramAnswer}}
		queries[2].ch = []chQuestion{{sql: ch.chFacets(wsID, day), answer: chFacetsAnswer}}
		queries[3].ch = []chQuestion{
			{name: "quantiles (approximate)", sql: ch.chStats(wsID, week, false), answer: chStatsAnswer, tolerance: math.Inf(1)},
			{name: "exact interpolated", sql: ch.chStats(wsID, week, true), answer: chStatsAnswer, tolerance: percentileTolerance},
		}
		queries[4].ch = []chQuestion{{sql: ch.chPatterns(wsID, day, 20), answer: chPatternsAnswer}}
		fmt.Fprintf(stdout, "windows end at %s; checking ClickHouse's answers against both servers' (counts exact, percentiles within %.0f%% relative)\n",
			now.Format(time.RFC3339), 100*percentileTolerance)
		for _, q := range queries {
			if err := q.check(ctx, ch, func(rowsOnly bool) ([]byte, error) {
				if rowsOnly {
					return send(rowsSrv, q.query)
				}
				return send(srv, q.query)
			}, stdout); err != nil {
				return err
			}
		}
	}
	sides := func(q analyticsQuestion) []func() error {
		out := []func() error{
			func() error { _, err := send(srv, q.query); return err },
			func() error { _, err := send(rowsSrv, q.query); return err },
		}
		for _, c := range q.ch {
			out = append(out, func() error { _, err := ch.rows(ctx, c.sql); return err })
		}
		return out
	}
	if ch == nil {
		fmt.Fprintf(stdout, "%d requests each after 3 warm-up requests, the two servers alternating (which goes first too); milliseconds\n"+
			"| query | p50 | p95 | max | rows only: p50 | p95 | p50 ratio |\n|---|---|---|---|---|---|---|\n", cfg.requests)
	} else {
		fmt.Fprintf(stdout, "%d requests each after 3 warm-up requests, the sides in turn (which goes first rotating); milliseconds\n"+
			"| query | rollups p50 | p95 | rows only p50 | p95 | ClickHouse p50 | p95 | rows only / rollups (p50) | rollups / ClickHouse (p50) |\n"+
			"|---|---|---|---|---|---|---|---|---|\n", cfg.requests)
	}
	for _, q := range queries {
		run := sides(q)
		ms := make([][]float64, len(run))
		for i := 0; i < cfg.requests+3; i++ {
			for j := range run {
				side := (i + j) % len(run)
				start := time.Now()
				if err := run[side](); err != nil {
					return fmt.Errorf("%s: %w", q.name, err)
				}
				if i >= 3 {
					ms[side] = append(ms[side], msOf(time.Since(start)))
				}
			}
		}
		if ch == nil {
			fmt.Fprintf(stdout, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx |\n", q.name, pct(ms[0], 50), pct(ms[0], 95), pct(ms[0], 100),
				pct(ms[1], 50), pct(ms[1], 95), pct(ms[1], 50)/pct(ms[0], 50))
			continue
		}
		for v, c := range q.ch {
			name, lg := q.name, fmt.Sprintf("%.1f | %.1f | %.1f | %.1f", pct(ms[0], 50), pct(ms[0], 95), pct(ms[1], 50), pct(ms[1], 95))
			rowsRatio := fmt.Sprintf("%.2fx", pct(ms[1], 50)/pct(ms[0], 50))
			if c.name != "" {
				name += " (ClickHouse: " + c.name + ")"
			}
			if v > 0 {
				lg, rowsRatio = "| | |", ""
			}
			chMs := ms[2+v]
			fmt.Fprintf(stdout, "| %s | %s | %.1f | %.1f | %s | %.2fx |\n", name, lg, pct(chMs, 50), pct(chMs, 95), rowsRatio, pct(ms[0], 50)/pct(chMs, 50))
		}
	}
	if err := refreshFigures(cfg.requests, send, srv, cacheSrv, berlin, stdout); err != nil {
		return err
	}
	if ch != nil {
		return bytesPerRow(ctx, a.DB, ch, stdout)
	}
	return nil
}

// refreshFigures measures the histograms, facets, stats and patterns as a dashboard refreshes them: the window
// ends at the current time, so each request has a partial first bucket and an open
// last one (for facets, the 15-minute slots), and the server with the closed-bucket
// cache (cacheSrv) computes only those (and buckets whose logs changed: none here,
// nothing is ingested meanwhile).
// Each refresh is checked equal to the uncached server's answer over the same window
// before the timed requests; the figures say how many buckets the last refresh took
// from the cache (extensions.stats).
func refreshFigures(requests int, send func(*httptest.Server, string) ([]byte, error), srv, cacheSrv *httptest.Server,
	berlin *time.Location, stdout io.Writer) error {
	const histogram = `{ logHistogram(filter: {time: {from: %q, to: %q}}, %s) { buckets { start count bySeverity { severity count } } } }`
	const facets = `{ logFacets(filter: {time: {from: %q, to: %q}}, %s) { field otherCount values { value count } } }`
	const stats = `{ apiRequestStats(filter: {time: {from: %q, to: %q}}, %s) { rows { endpoint other count errorCount timing { p50 p95 p99 } } } }`
	const patterns = `{ logPatterns(filter: {time: {from: %q, to: %q}}%s) { pattern count severity firstSeen lastSeen } }`
	histograms := []struct {
		name, query string
		span        time.Duration
		args        string
	}{
		{"logHistogram, 24 h, all kinds, 30 min buckets", histogram, 24 * time.Hour, `interval: "30m"`},
		{"logHistogram, 30 days, 1 d buckets, Europe/Berlin", histogram, 30 * 24 * time.Hour, `interval: "1d", timeZone: "` + berlin.String() + `"`},
		{"logFacets, 24 h, SOURCE SEVERITY KIND (top 10 each)", facets, 24 * time.Hour, `fields: [SOURCE, SEVERITY, KIND]`},
		{"logFacets, 7 days, SOURCE SEVERITY KIND (top 10 each)", facets, 7 * 24 * time.Hour, `fields: [SOURCE, SEVERITY, KIND]`},
		{"apiRequestStats by ENDPOINT, 7 days, ordered by p95", stats, 7 * 24 * time.Hour, `groupBy: [ENDPOINT], orderBy: {field: TIMING_P95}`},
		{"logPatterns, 24 h (first 20)", patterns, 24 * time.Hour, ``},
	}
	query := func(tmpl string, span time.Duration, args string) string {
		now := time.Now().UTC()
		return fmt.Sprintf(tmpl, now.Add(-span).Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), args)
	}
	fmt.Fprintf(stdout, "dashboard refresh (window ending now, closed-bucket cache on; %d requests after 3 warm-ups, each answer checked against the uncached server's); milliseconds\n"+
		"| query | refresh p50 | p95 | buckets cached / computed (last refresh) |\n|---|---|---|---|\n", requests)
	for _, h := range histograms {
		var ms []float64
		var last []byte
		for i := 0; i < requests+3; i++ {
			q := query(h.query, h.span, h.args)
			start := time.Now()
			reply, err := send(cacheSrv, q)
			if err != nil {
				return fmt.Errorf("%s, refresh: %w", h.name, err)
			}
			if i >= 3 {
				ms = append(ms, msOf(time.Since(start)))
			}
			want, err := send(srv, q)
			if err != nil {
				return fmt.Errorf("%s: %w", h.name, err)
			}
			if !bytes.Equal(dataOf(reply), dataOf(want)) {
				return fmt.Errorf("%s: the cached refresh differs from the uncached answer over the same window", h.name)
			}
			last = reply
		}
		var stats struct {
			Extensions struct {
				Stats struct {
					Analytics []struct {
						Cache *struct {
							Cached   int `json:"cachedBuckets"`
							Computed int `json:"computedBuckets"`
						} `json:"cache"`
					} `json:"analytics"`
				} `json:"stats"`
			} `json:"extensions"`
		}
		use := "not cached"
		if err := json.Unmarshal(last, &stats); err == nil && len(stats.Extensions.Stats.Analytics) > 0 {
			if c := stats.Extensions.Stats.Analytics[0].Cache; c != nil {
				use = fmt.Sprintf("%d / %d", c.Cached, c.Computed)
			}
		}
		fmt.Fprintf(stdout, "| %s | %.1f | %.1f | %s |\n", h.name, pct(ms, 50), pct(ms, 95), use)
	}
	return nil
}

// dataOf is a GraphQL reply's data member (its extensions, which carry timings,
// left out).
func dataOf(reply []byte) []byte {
	var r struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(reply, &r) != nil {
		return reply
	}
	return r.Data
}

// percentileTolerance is how far (relative) loggraph's percentiles may be from
// ClickHouse's exact interpolated ones: the rollups' documented bound (issue 13);
// from rows, both are percentile_cont and agree to rounding.
const percentileTolerance = 0.01

// analyticsQuestion is one question of bench analytics: loggraph's GraphQL query
// and how its reply reads as an answer, and ClickHouse's statements for it.
type analyticsQuestion struct {
	name, query string
	answer      func(reply []byte) (answer, error)
	ch          []chQuestion
}

// chQuestion is one ClickHouse statement answering a question; name tells variants
// apart. Its percentiles must be within tolerance (relative) of loggraph's; an
// infinite tolerance reports the deviation only (an approximate answer).
type chQuestion struct {
	name, sql string
	answer    func(rows [][]json.RawMessage) (answer, error)
	tolerance float64
}

// check compares each ClickHouse answer with both loggraph servers' (ask(rowsOnly)
// sends the query), prints what was checked, and fails on any difference.
func (q analyticsQuestion) check(ctx context.Context, ch *clickHouse, ask func(rowsOnly bool) ([]byte, error), stdout io.Writer) error {
	var want [2]answer
	for i := range want {
		reply, err := ask(i == 1)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		if want[i], err = q.answer(reply); err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
	}
	for _, c := range q.ch {
		rows, err := ch.rows(ctx, c.sql)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		got, err := c.answer(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		tol := c.tolerance
		if tol == 0 {
			tol = percentileTolerance
		}
		var worst float64
		for i, server := range []string{"rollups", "rows only"} {
			diffs, maxRel := compareAnswers(want[i], got, tol)
			if len(diffs) > 0 {
				return fmt.Errorf("%s: ClickHouse's answer%s differs from loggraph's (%s):\n  %s", q.name, suffix(c.name), server, strings.Join(diffs, "\n  "))
			}
			worst = math.Max(worst, maxRel)
		}
		line := fmt.Sprintf("equal: %s%s: %d counts", q.name, suffix(c.name), len(got.counts))
		if len(got.values) > 0 {
			line += fmt.Sprintf(", %d percentiles at most %.3f%% apart", len(got.values), 100*worst)
			if math.IsInf(tol, 1) {
				line += " (approximate: not checked)"
			}
		}
		fmt.Fprintln(stdout, line)
	}
	return nil
}

func suffix(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

// bytesPerRow prints each kind's bytes per row on disk in both stores: loggraph's
// heap (with TOAST) and indexes over every workspace of its database, ClickHouse's
// active parts (system.parts).
func bytesPerRow(ctx context.Context, d *db.DB, ch *clickHouse, stdout io.Writer) error {
	sizes, err := ch.sizes(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n| kind | loggraph rows | loggraph B/row (heap + indexes) | ClickHouse rows | ClickHouse B/row (parts on disk) | ratio |\n|---|---|---|---|---|---|")
	for _, k := range model.AllKinds {
		ts, err := db.MeasureTable(ctx, d, k)
		if err != nil {
			return err
		}
		total := ts.Heap
		for _, ix := range ts.Indexes {
			total += ix.Bytes
		}
		lg := float64(total) / float64(max(ts.Rows, 1))
		p := sizes[k.Table()]
		c := float64(p.bytes) / float64(max(p.rows, 1))
		fmt.Fprintf(stdout, "| %s | %d | %.0f | %d | %.0f | %.1fx |\n", k.Route(), ts.Rows, lg, p.rows, c, lg/max(c, 1e-9))
	}
	return nil
}

// fill loads the workspace into ClickHouse through the export route, unless an
// earlier run loaded it completely (drop the database to reload).
func (c *clickHouse) fill(ctx context.Context, srv *httptest.Server, token, ws string, stdout io.Writer) error {
	done, err := c.loaded(ctx, ws)
	if err != nil {
		return err
	}
	if done {
		fmt.Fprintf(stdout, "ClickHouse database %s already loaded\n", c.db)
		return nil
	}
	var total int64
	for _, k := range model.AllKinds {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/export/"+k.Route()+".ndjson?time.from=2000-01-01T00:00:00Z", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("export %s: %d", k.Route(), resp.StatusCode)
		}
		n, err := c.load(ctx, k, ws, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		total += n
		fmt.Fprintf(stdout, "ClickHouse: loaded %d %s rows through /v1/export/%s.ndjson in %s\n", n, k.Route(), k.Route(), time.Since(start).Round(time.Millisecond))
	}
	if total == 0 {
		return fmt.Errorf("the workspace exported no rows: was its seed interrupted? delete it (loggraph workspace delete SLUG) to seed it again")
	}
	return c.markLoaded(ctx, ws, total)
}
