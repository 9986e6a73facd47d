package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// Retention benchmark (issue 11): a fresh workspace gets --retention-rows rows of all
// five kinds over the last 30 days, every day its own partition; then, per round,
// two ingest clients and four GraphQL readers run for --load-round with no retention
// (calm), and again while one retention run drops 7 more days (30 -> 23 -> 16 -> 9
// days kept). The bench database should hold no other workspace: the server-wide
// retention defaults are set for the run.
const (
	retentionRounds        = 3
	retentionIngestClients = 2
	retentionReaders       = 4
	retentionBatch         = 500
)

func cmdBenchRetention(ctx context.Context, dbURL string, rows int, calm time.Duration, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a, err := newApp(ctx, serveConfig{DatabaseURL: dbURL, StatementTimeout: time.Hour, MaxIngestBytes: 64 << 20,
		Partitions: db.PartitionOptions{DailyDays: 40}}, log)
	if err != nil {
		return err
	}
	defer func() {
		a.Stop()
		a.DB.Close()
	}()
	ws, err := db.NewWorkspaceStore(a.DB.Bun).Create(ctx, fmt.Sprintf("bench-retention-%d", time.Now().Unix()), "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	res, err := db.Seed(ctx, a.DB, a.Parts, ws.ID, db.SeedOptions{Rows: rows, Days: 30})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d rows over 30 days in %s\n", rows, res.Duration.Round(time.Second))
	tokens := db.NewTokenStore(a.DB.Bun)
	_, ingestTok, err := tokens.Create(ctx, ws.ID, "bench retention", model.RoleIngest)
	if err != nil {
		return err
	}
	_, readTok, err := tokens.Create(ctx, ws.ID, "bench retention", model.RoleRead)
	if err != nil {
		return err
	}
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	c := srv.Client()

	var current atomic.Pointer[loadRound]
	newRound := func() *loadRound { r := &loadRound{fiveXX: map[string]int{}}; current.Store(r); return r }
	newRound()
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var acked atomic.Int64
	var acks sync.Map
	for i := range retentionIngestClients {
		wg.Go(func() {
			loadIngester(cctx, c, srv.URL, ingestTok, retentionBatch, uint64(i+1), current.Load, &acked, &acks)
		})
	}
	for i := range retentionReaders {
		wg.Go(func() { loadReader(cctx, c, srv.URL, readTok, i, current.Load) })
	}
	defer func() { stop(); wg.Wait() }()

	var ingestRatio, readRatio, durations []float64
	for r := 1; r <= retentionRounds; r++ {
		keep := 30 - 7*r
		for _, k := range model.AllKinds {
			if err := a.Lifecycle.SetDefaultRetention(ctx, k, &keep); err != nil {
				return err
			}
		}
		base := newRound()
		select {
		case <-time.After(calm):
		case <-ctx.Done():
			return ctx.Err()
		}
		during := newRound()
		began := time.Now()
		rep, err := a.Lifecycle.ApplyRetention(ctx, db.RetentionOptions{})
		took := time.Since(began)
		newRound()
		if err != nil {
			return err
		}
		deleted, bytes, parts := rep.Totals()
		durations = append(durations, took.Seconds())
		var figures [2][4]float64 // calm, during: ingest p50, p99, read p50, p99
		for i, ph := range []*loadRound{base, during} {
			ph.mu.Lock()
			figures[i] = [4]float64{pctOf(ph.ingestMs, 50), pctOf(ph.ingestMs, 99), pctOf(ph.readMs, 50), pctOf(ph.readMs, 99)}
			fmt.Fprintf(stdout, "round %d %-6s: %4d ingests p50 %.1f ms p99 %.1f ms; %5d reads p50 %.1f ms p99 %.1f ms; 5xx/errors %v\n",
				r, []string{"calm", "during"}[i], len(ph.ingestMs), figures[i][0], figures[i][1], len(ph.readMs), figures[i][2], figures[i][3], ph.fiveXX)
			ph.mu.Unlock()
		}
		fmt.Fprintf(stdout, "round %d: keep %d days: retention took %s, dropped %d partitions, %d rows, %.1f MB\n",
			r, keep, took.Round(time.Millisecond), parts, deleted, float64(bytes)/1e6)
		ingestRatio = append(ingestRatio, figures[1][1]/figures[0][1])
		readRatio = append(readRatio, figures[1][3]/figures[0][3])
	}
	fmt.Fprintf(stdout, "median over %d rounds: retention %.2f s; p99 during/calm: ingest %.2fx, read %.2fx\n",
		retentionRounds, median(durations), median(ingestRatio), median(readRatio))
	return nil
}
