package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loggraph/loggraph/db"
)

// benchReadWorkspace holds the read benchmark's data; it is seeded once and reused.
const benchReadWorkspace = "bench-read"

// cmdBenchRead measures GraphQL reads over HTTP beside the same SQL run raw through
// pgx on the same pool: the statements a GraphQL request ran are captured (with
// their arguments, db.Options.OnStatement) and replayed, so both sides do exactly
// the same database work.
func cmdBenchRead(ctx context.Context, dbURL string, rows, requests int, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cap := &sqlCapture{}
	a, err := newApp(ctx, serveConfig{DatabaseURL: dbURL, StatementTimeout: time.Hour, OnStatement: cap.add}, log)
	if err != nil {
		return err
	}
	defer func() {
		a.Stop()
		a.DB.Close()
	}()

	wss := db.NewWorkspaceStore(a.DB.Bun)
	ws, err := wss.BySlug(ctx, benchReadWorkspace)
	if errors.Is(err, db.ErrNotFound) {
		if ws, err = wss.Create(ctx, benchReadWorkspace, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeding %d rows into workspace %s...\n", rows, benchReadWorkspace)
		if _, err := db.Seed(ctx, a.DB, a.Parts, ws.ID, db.SeedOptions{Rows: rows, Days: 7}); err != nil {
			return err
		}
		if _, err := a.DB.Pool.Exec(ctx, "ANALYZE"); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	srv, token, err := readServer(ctx, a, ws.ID)
	if err != nil {
		return err
	}
	defer srv.Close()
	// send posts a request and reads the whole reply, as a client does before using it;
	// decoding it is the client's work and is left out of the timings.
	send := func(query string, vars map[string]any) ([]byte, error) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
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
			err = fmt.Errorf("graphql: %d %s", resp.StatusCode, reply)
		}
		return reply, err
	}
	post := func(query string, vars map[string]any) (map[string]json.RawMessage, error) {
		reply, err := send(query, vars)
		if err != nil {
			return nil, err
		}
		var out struct{ Data map[string]json.RawMessage }
		return out.Data, json.Unmarshal(reply, &out)
	}

	const appQuery = `query($filter: AppLogFilter, $after: String) { appLogs(first: 50, after: $after, filter: $filter) {
		edges { cursor } nodes { id timestamp level service message details } } }`
	firstFilter := map[string]any{"services": []string{"payment-gateway"}, "levels": []string{"ERROR", "WARN"}, "time": map[string]any{"last": "24h"}}
	deepFilter := map[string]any{"time": map[string]any{"last": "7d"}}
	// The deep page: the cursor after 200 pages of 50.
	var after any
	for i := 0; i < 200; i++ {
		d, err := post(appQuery, map[string]any{"filter": deepFilter, "after": after})
		if err != nil {
			return err
		}
		var c struct{ Edges []struct{ Cursor string } }
		if err := json.Unmarshal(d["appLogs"], &c); err != nil || len(c.Edges) != 50 {
			return fmt.Errorf("page %d of the deep walk had %d rows (%v)", i+1, len(c.Edges), err)
		}
		after = c.Edges[49].Cursor
	}
	scenarios := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"appLogs first page (service + levels, last 24h)", appQuery, map[string]any{"filter": firstFilter}},
		{"appLogs first page (last 7d)", appQuery, map[string]any{"filter": deepFilter}},
		{"appLogs page 201 (last 7d, after 200 pages)", appQuery, map[string]any{"filter": deepFilter, "after": after}},
		{"logs across kinds first page (last 24h)", `query($filter: LogFilter) { logs(first: 50, filter: $filter) {
			edges { cursor } nodes { id kind timestamp severity message source } } }`, map[string]any{"filter": map[string]any{"time": map[string]any{"last": "24h"}}}},
	}
	fmt.Fprintf(stdout, "%d requests per figure after 20 warm-up requests; milliseconds\n", requests)
	fmt.Fprintf(stdout, "| query | statements | GraphQL p50 | GraphQL p95 | raw SQL p50 | raw SQL p95 | p95 ratio | raw SQL + token lookup p95 | p95 ratio |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range scenarios {
		all, err := cap.capture(func() error { _, err := send(s.query, s.vars); return err })
		if err != nil {
			return err
		}
		// The operation's statements; the token lookup (HTTP middleware) is timed apart.
		var stmts, auth []statement
		for _, q := range all {
			switch {
			case strings.Contains(q.sql, "UPDATE api_tokens"): // once a minute per token, not per request
			case strings.Contains(q.sql, "api_tokens"):
				auth = append(auth, q)
			default:
				stmts = append(stmts, q)
			}
		}
		gql, raw, withAuth := make([]float64, 0, requests), make([]float64, 0, requests), make([]float64, 0, requests)
		for i := 0; i < requests+20; i++ {
			start := time.Now()
			if _, err := send(s.query, s.vars); err != nil {
				return err
			}
			g := time.Since(start)
			start = time.Now()
			for _, q := range stmts {
				if err := drain(ctx, a.DB, q); err != nil {
					return fmt.Errorf("raw %q: %w", q.sql, err)
				}
			}
			r := time.Since(start)
			for _, q := range auth {
				if err := drain(ctx, a.DB, q); err != nil {
					return fmt.Errorf("raw %q: %w", q.sql, err)
				}
			}
			ra := time.Since(start)
			if i >= 20 {
				gql, raw, withAuth = append(gql, ms(g)), append(raw, ms(r)), append(withAuth, ms(ra))
			}
		}
		gp50, gp95, rp50, rp95, ap95 := pct(gql, 50), pct(gql, 95), pct(raw, 50), pct(raw, 95), pct(withAuth, 95)
		fmt.Fprintf(stdout, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", s.name, len(stmts), gp50, gp95, rp50, rp95, gp95/rp95, ap95, gp95/ap95)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(xs []float64, p int) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// drain runs one statement raw through pgx and reads every row.
func drain(ctx context.Context, d *db.DB, q statement) error {
	rows, err := d.Pool.Query(ctx, q.sql, q.args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if _, err := rows.Values(); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	return rows.Err()
}

// statement is one captured statement: its text and pgx's arguments.
type statement struct {
	sql  string
	args []any
}

// sqlCapture records the statements sent while capturing.
type sqlCapture struct {
	mu    sync.Mutex
	on    bool
	stmts []statement
}

func (c *sqlCapture) capture(fn func() error) ([]statement, error) {
	c.mu.Lock()
	c.on, c.stmts = true, nil
	c.mu.Unlock()
	err := fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.stmts, err
}

// add is the db.Options.OnStatement hook.
func (c *sqlCapture) add(sql string, args []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		c.stmts = append(c.stmts, statement{sql: sql, args: args})
	}
}
