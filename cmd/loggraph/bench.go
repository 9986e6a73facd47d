package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// cmdBench runs `bench read` (cmdBenchRead) or `bench ingest`, which measures, on a
// persistent bench database: seed throughput, and
// POST /v1/ingest/app throughput (batches of --batch lines from --clients concurrent
// clients, through real HTTP) against `psql \copy` of rows of the same shape into
// the same table. Each figure is the median of --rounds; the order of the two
// contenders alternates between rounds.
func cmdBench(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, _ := newFlags("bench", env, stderr)
	dbURL := fs.String("bench-database-url", env.str("LOGGRAPH_BENCH_DATABASE_URL",
		"postgres://postgres@localhost:5432/loggraph_bench?sslmode=disable"), "bench database (env LOGGRAPH_BENCH_DATABASE_URL)")
	seedRows := fs.Int("seed-rows", 1_000_000, "rows per seed round (0 skips the seed benchmark)")
	rows := fs.Int("rows", 200_000, "app log rows per ingest round")
	batch := fs.Int("batch", 5000, "lines per ingest request")
	clients := fs.Int("clients", 2, "concurrent ingest clients")
	rounds := fs.Int("rounds", 5, "rounds per figure (the median is reported)")
	seedRounds := fs.Int("seed-rounds", 3, "seed rounds")
	requests := fs.Int("requests", 300, "requests per figure (bench read)")
	analyticsRows := fs.Int("analytics-rows", 1_000_000, "rows seeded once over 30 days into workspace bench-analytics-<rows> (bench analytics)")
	clickHouseURL := fs.String("clickhouse-url", env.str("LOGGRAPH_BENCH_CLICKHOUSE_URL", ""),
		"a ClickHouse HTTP interface (e.g. http://127.0.0.1:8123): bench analytics loads the workspace into it through the export route and times it as a third side (env LOGGRAPH_BENCH_CLICKHOUSE_URL; empty: no ClickHouse)")
	exportRows := fs.Int("export-rows", 1_000_000, "app logs exported (bench shims; 0 skips the export figures)")
	readRows := fs.Int("read-rows", 1_000_000, "rows seeded once into workspace "+benchReadWorkspace+" (bench read)")
	storageURL := fs.String("storage-database-url", env.str("LOGGRAPH_BENCH_STORAGE_DATABASE_URL",
		"postgres://postgres@localhost:5432/loggraph_bench_storage?sslmode=disable"),
		"a database without logs, all its own (bench storage; env LOGGRAPH_BENCH_STORAGE_DATABASE_URL)")
	storageRows := fs.Int("storage-rows", 1_000_000, "rows seeded, all five kinds (bench storage)")
	load := loadConfig{}
	fs.DurationVar(&load.round, "load-round", 30*time.Second, "length of one round (bench load)")
	fs.IntVar(&load.rounds, "load-rounds", 6, "rounds without and with the hostile client, in the order calm, hostile, hostile, calm, ... (bench load)")
	fs.IntVar(&load.ingestClients, "ingest-clients", 8, "concurrent ingest clients (bench load)")
	fs.IntVar(&load.batch, "load-batch", 500, "rows per ingest batch (bench load)")
	fs.IntVar(&load.readers, "readers", 16, "concurrent GraphQL readers (bench load)")
	fs.IntVar(&load.subscribers, "subscribers", 20, "logTail subscribers (bench load)")
	retentionRows := fs.Int("retention-rows", 10_000_000, "rows seeded over 30 days into a fresh workspace (bench retention)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && pos[0] == "retention" {
		return cmdBenchRetention(ctx, *dbURL, *retentionRows, load.round, stdout)
	}
	if len(pos) == 1 && pos[0] == "read" {
		return cmdBenchRead(ctx, *dbURL, *readRows, *requests, stdout)
	}
	if len(pos) == 1 && pos[0] == "analytics" {
		return cmdBenchAnalytics(ctx, analyticsConfig{dbURL: *dbURL, rows: *analyticsRows, requests: *requests, clickHouseURL: *clickHouseURL}, stdout)
	}
	if len(pos) == 1 && pos[0] == "load" {
		load.dbURL, load.readRows = *dbURL, *readRows
		return cmdBenchLoad(ctx, load, stdout)
	}
	if len(pos) == 1 && pos[0] == "storage" {
		return cmdBenchStorage(ctx, *storageURL, *storageRows, stdout)
	}
	if len(pos) == 1 && pos[0] == "shims" {
		return cmdBenchShims(ctx, *dbURL, *readRows, *requests, *exportRows, stdout)
	}
	if len(pos) != 1 || pos[0] != "ingest" {
		return usagef("usage: loggraph bench ingest|read|shims|analytics|load|storage|retention [flags]")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		return fmt.Errorf("bench needs psql on PATH for the raw \\copy baseline: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a, err := newApp(ctx, serveConfig{DatabaseURL: *dbURL, StatementTimeout: time.Hour, MaxIngestBytes: 64 << 20}, log)
	if err != nil {
		return err
	}
	defer func() {
		a.Stop()
		a.DB.Close()
	}()
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = *clients

	fmt.Fprintf(stdout, "machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	if *seedRows > 0 {
		var rates []float64
		for i := 0; i < *seedRounds; i++ {
			ws, err := db.NewWorkspaceStore(a.DB.Bun).Create(ctx, fmt.Sprintf("bench-seed-%d", time.Now().UnixNano()), "")
			if err != nil {
				return err
			}
			res, err := db.Seed(ctx, a.DB, a.Parts, ws.ID, db.SeedOptions{Rows: *seedRows, Days: 7, Seed: int64(i + 1)})
			if err != nil {
				return err
			}
			rates = append(rates, float64(*seedRows)/res.Duration.Seconds())
			fmt.Fprintf(stdout, "seed round %d: %d rows in %s (%.0f rows/s)\n", i+1, *seedRows, res.Duration.Round(time.Millisecond), rates[i])
		}
		m := median(rates)
		fmt.Fprintf(stdout, "seed: median %.0f rows/s = %.1f s per %d rows (rounds %d)\n", m, float64(*seedRows)/m, *seedRows, *seedRounds)
	}

	ws, err := db.NewWorkspaceStore(a.DB.Bun).Create(ctx, fmt.Sprintf("bench-ingest-%d", time.Now().UnixNano()), "")
	if err != nil {
		return err
	}
	_, token, err := db.NewTokenStore(a.DB.Bun).Create(ctx, ws.ID, "bench", model.RoleIngest)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loggraph-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Contenders per round: the ingest route with `clients` HTTP clients, one psql
	// \copy of all the rows, and `clients` psql \copy processes in parallel (the same
	// connection count as the ingest clients). Their order rotates between rounds.
	var ingestRates, copy1Rates, copyNRates []float64
	for i := 0; i < *rounds; i++ {
		recs := newAppRowGen(uint64(i+1)).rows(*rows, time.Now())
		bodies := ndjsonBatches(recs, *batch)
		// psql needs ids (the table has no default); the content is the same rows.
		whole := filepath.Join(dir, fmt.Sprintf("round%d.csv", i))
		if err := writeCopyCSV(whole, ws.ID, recs); err != nil {
			return err
		}
		var parts []string
		per := (len(recs) + *clients - 1) / *clients
		for c := 0; c < *clients; c++ {
			path := filepath.Join(dir, fmt.Sprintf("round%d-part%d.csv", i, c))
			if err := writeCopyCSV(path, ws.ID, recs[c*per:min((c+1)*per, len(recs))]); err != nil {
				return err
			}
			parts = append(parts, path)
		}
		contenders := []func() error{
			func() error {
				d, err := postConcurrently(ctx, srv.Client(), srv.URL+"/v1/ingest/app", token, bodies, *clients)
				ingestRates = append(ingestRates, float64(*rows)/d.Seconds())
				return err
			},
			func() error {
				d, err := psqlCopy(ctx, *dbURL, whole)
				copy1Rates = append(copy1Rates, float64(*rows)/d.Seconds())
				return err
			},
			func() error {
				d, err := psqlCopyParallel(ctx, *dbURL, parts)
				copyNRates = append(copyNRates, float64(*rows)/d.Seconds())
				return err
			},
		}
		for j := range contenders {
			if err := contenders[(i+j)%len(contenders)](); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "ingest round %d: /v1/ingest/app %.0f rows/s; psql \\copy x1 %.0f rows/s (ratio %.2f); psql \\copy x%d %.0f rows/s (ratio %.2f)\n",
			i+1, ingestRates[i], copy1Rates[i], ingestRates[i]/copy1Rates[i], *clients, copyNRates[i], ingestRates[i]/copyNRates[i])
	}
	mi := median(ingestRates)
	fmt.Fprintf(stdout, "ingest: median /v1/ingest/app %.0f rows/s (%d clients, %d-line batches, %d rows per round, %d rounds)\n",
		mi, *clients, *batch, *rows, *rounds)
	fmt.Fprintf(stdout, "ingest: vs one psql \\copy: median %.0f rows/s, median per-round ratio %.2f\n", median(copy1Rates), medianRatio(ingestRates, copy1Rates))
	fmt.Fprintf(stdout, "ingest: vs %d parallel psql \\copy: median %.0f rows/s, median per-round ratio %.2f\n", *clients, median(copyNRates), medianRatio(ingestRates, copyNRates))
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianRatio(a, b []float64) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return median(r)
}

// appRowGen makes app log rows shaped like production ones: a few services, skewed
// levels, templated messages, small details objects.
type appRowGen struct{ r *rand.Rand }

func newAppRowGen(seed uint64) *appRowGen { return &appRowGen{rand.New(rand.NewPCG(seed, 42))} }

var benchServices = []string{"user-service", "payment-gateway", "order-service", "inventory", "notification", "auth", "search", "shipping"}

func (g *appRowGen) rows(n int, now time.Time) []model.AppLog {
	out := make([]model.AppLog, n)
	for i := range out {
		lvl := model.SeverityInfo
		switch p := g.r.IntN(100); {
		case p < 15:
			lvl = model.SeverityDebug
		case p < 85:
		case p < 94:
			lvl = model.SeverityWarn
		case p < 99:
			lvl = model.SeverityError
		default:
			lvl = model.SeverityFatal
		}
		user := g.r.IntN(100000)
		out[i] = model.AppLog{
			Timestamp: now.Add(-time.Duration(g.r.Int64N(int64(12 * time.Hour)))).Truncate(time.Microsecond).UTC(),
			Level:     lvl,
			Service:   benchServices[g.r.IntN(len(benchServices))],
			Message:   fmt.Sprintf("request %d for user %d finished in %d ms", g.r.IntN(1_000_000), user, g.r.IntN(900)),
			Details:   json.RawMessage(fmt.Sprintf(`{"user_id":%d,"ip_address":"10.%d.%d.%d"}`, user, g.r.IntN(256), g.r.IntN(256), g.r.IntN(256))),
		}
	}
	return out
}

func ndjsonBatches(rows []model.AppLog, size int) [][]byte {
	var out [][]byte
	for start := 0; start < len(rows); start += size {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, r := range rows[start:min(start+size, len(rows))] {
			_ = enc.Encode(struct {
				Timestamp time.Time       `json:"timestamp"`
				Level     model.Severity  `json:"level"`
				Service   string          `json:"service"`
				Message   string          `json:"message"`
				Details   json.RawMessage `json:"details"`
			}{r.Timestamp, r.Level, r.Service, r.Message, r.Details})
		}
		out = append(out, b.Bytes())
	}
	return out
}

// postConcurrently sends every body from `clients` goroutines and returns the wall time.
func postConcurrently(ctx context.Context, c *http.Client, url, token string, bodies [][]byte, clients int) (time.Duration, error) {
	work := make(chan []byte)
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := c.Do(req)
				if err != nil {
					errc <- err
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errc <- fmt.Errorf("ingest: %d %s", resp.StatusCode, msg)
					return
				}
			}
		}()
	}
	for _, b := range bodies {
		select {
		case work <- b:
		case err := <-errc:
			close(work)
			wg.Wait()
			return 0, err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return time.Since(start), nil
}

func writeCopyCSV(path string, ws uuid.UUID, rows []model.AppLog) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	for _, r := range rows {
		id, _ := uuid.NewV7()
		_ = w.Write([]string{ws.String(), id.String(), r.Timestamp.Format(time.RFC3339Nano), fmt.Sprint(int16(r.Level)),
			r.Service, r.Message, string(r.Details)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// psqlCopyParallel loads each file with its own psql process, all at once.
func psqlCopyParallel(ctx context.Context, url string, paths []string) (time.Duration, error) {
	start := time.Now()
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() { _, errs[i] = psqlCopy(ctx, url, p) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// psqlCopy loads the CSV with psql's client-side \copy and returns the wall time.
func psqlCopy(ctx context.Context, url, path string) (time.Duration, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c",
		`\copy app_logs (workspace_id, id, "timestamp", level, service, message, details) FROM '`+path+`' WITH (FORMAT csv)`)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("psql \\copy: %v: %s", err, out)
	}
	return time.Since(start), nil
}
