package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// loadConfig is `bench load`: the mixed load of issue 8 against a real server
// process, in rounds without and with a hostile client, ordered ABBA (calm,
// hostile, hostile, calm, calm, ...) so that a drift over the run (the ingest
// workspace grows) weighs on both conditions alike.
type loadConfig struct {
	dbURL         string
	round         time.Duration
	rounds        int
	ingestClients int
	batch         int
	readers       int
	subscribers   int
	readRows      int
}

// abba says whether round i (from 0) is hostile: calm, hostile, hostile, calm, ...
func abba(i int) bool { return (i+1)%4 >= 2 }

// loadRound collects what happened while one round ran; a sample belongs to the
// round in which its request started.
type loadRound struct {
	hostile bool
	mu      sync.Mutex

	ingestRows  int
	ingest429   int
	ingestMs    []float64 // acknowledged ingest requests' latency
	readMs      []float64
	tailLagMs   []float64 // from the row's sending (its timestamp) to its arrival
	tailAckMs   []float64 // from its batch's acknowledgment (commit) to its arrival; 0 if it came first
	tailDropped int
	fiveXX      map[string]int // surface -> 5xx answers (and transport failures)
	attacks     map[string]map[string]int
	attackMaxMs map[string]float64
	rssMaxKB    int64
}

func (r *loadRound) add(f func(r *loadRound)) {
	r.mu.Lock()
	f(r)
	r.mu.Unlock()
}

// cmdBenchLoad starts `loggraph serve` as a child process (its RSS is the server's
// alone) over the bench database and runs, for --rounds rounds of --round each:
// --ingest-clients clients posting --batch-row app batches (explicit ids, retried
// until acknowledged, honouring Retry-After), --readers GraphQL readers over the
// bench-read workspace, --subscribers logTail websockets; every other round also one
// hostile client cycling through the attacks of issue 8. At the end it checks that
// the stored rows are exactly the acknowledged ones.
func cmdBenchLoad(ctx context.Context, cfg loadConfig, stdout io.Writer) error {
	d, err := openMigrated(ctx, cfg.dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	parts := db.NewPartitions(d)
	wss, tokens := db.NewWorkspaceStore(d.Bun), db.NewTokenStore(d.Bun)
	readWS, err := wss.BySlug(ctx, benchReadWorkspace)
	if errors.Is(err, db.ErrNotFound) {
		if readWS, err = wss.Create(ctx, benchReadWorkspace, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeding %d rows into workspace %s...\n", cfg.readRows, benchReadWorkspace)
		if _, err := db.Seed(ctx, d, parts, readWS.ID, db.SeedOptions{Rows: cfg.readRows, Days: 7}); err != nil {
			return err
		}
		if _, err := d.Pool.Exec(ctx, "ANALYZE"); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	stamp := time.Now().UnixNano()
	ingestWS, err := wss.Create(ctx, fmt.Sprintf("bench-load-%d", stamp), "")
	if err != nil {
		return err
	}
	hostileWS, err := wss.Create(ctx, fmt.Sprintf("bench-hostile-%d", stamp), "")
	if err != nil {
		return err
	}
	// The well-behaved tenants are allowed what the load needs (as an operator would
	// set with `loggraph workspace limits`); the hostile one keeps every default.
	unlimited := new(int64)
	for _, ws := range []uuid.UUID{readWS.ID, ingestWS.ID} {
		if _, err := db.NewWorkspaceLimitStore(d.Bun).Update(ctx, ws, func(l *model.WorkspaceLimits) {
			l.RequestsPerSecond, l.IngestRowsPerSecond, l.IngestBytesPerSecond = unlimited, unlimited, unlimited
		}); err != nil {
			return err
		}
	}
	token := func(ws uuid.UUID, role model.Role) (string, error) {
		_, t, err := tokens.Create(ctx, ws, "bench load", role)
		return t, err
	}
	readTok, err := token(readWS.ID, model.RoleRead)
	if err != nil {
		return err
	}
	ingestTok, err := token(ingestWS.ID, model.RoleAdmin)
	if err != nil {
		return err
	}
	hostileTok, err := token(hostileWS.ID, model.RoleAdmin)
	if err != nil {
		return err
	}

	srv, err := startServerProcess(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintf(stdout, "machine: %s/%s, %d CPUs, %s; server pid %d at %s\n", runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), srv.cmd.Process.Pid, srv.base)

	rounds := make([]*loadRound, cfg.rounds)
	for i := range rounds {
		rounds[i] = &loadRound{hostile: abba(i), fiveXX: map[string]int{}, attacks: map[string]map[string]int{}, attackMaxMs: map[string]float64{}}
	}
	var current atomic.Int32
	cur := func() *loadRound { return rounds[current.Load()] }
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var wg sync.WaitGroup
	var acked atomic.Int64 // rows of acknowledged batches
	var acks sync.Map      // batch timestamp (UnixNano) -> when its acknowledgment arrived

	for i := 0; i < cfg.subscribers; i++ {
		wg.Go(func() { loadSubscriber(runCtx, srv.base, ingestTok, cur, &acks) })
	}
	for i := 0; i < cfg.ingestClients; i++ {
		wg.Go(func() { loadIngester(runCtx, client, srv.base, ingestTok, cfg.batch, uint64(i), cur, &acked, &acks) })
	}
	for i := 0; i < cfg.readers; i++ {
		wg.Go(func() { loadReader(runCtx, client, srv.base, readTok, i, cur) })
	}
	hostileOn := make(chan bool, cfg.rounds)
	wg.Go(func() { loadHostile(runCtx, srv.base, hostileTok, hostileOn, cur) })
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if kb, err := procKB(strconv.Itoa(srv.cmd.Process.Pid), "VmRSS:"); err == nil {
					cur().add(func(r *loadRound) { r.rssMaxKB = max(r.rssMaxKB, kb) })
				}
			}
		}
	})
	for i := range rounds {
		current.Store(int32(i))
		hostileOn <- rounds[i].hostile
		fmt.Fprintf(stdout, "round %d/%d (hostile: %v)...\n", i+1, cfg.rounds, rounds[i].hostile)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.round):
		}
	}
	stopRun()
	wg.Wait()

	var stored, distinct int64
	if err := d.Pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM app_logs WHERE workspace_id = $1", ingestWS.ID).
		Scan(&stored, &distinct); err != nil {
		return err
	}
	printLoadReport(stdout, cfg, rounds)
	fmt.Fprintf(stdout, "rows acknowledged %d, stored %d: lost %d, duplicated %d\n", acked.Load(), stored, max(acked.Load()-stored, 0), stored-distinct)
	return nil
}

// serverProcess is `loggraph serve` running as a child.
type serverProcess struct {
	cmd  *exec.Cmd
	base string
	done chan error
}

func startServerProcess(ctx context.Context, cfg loadConfig) (*serverProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("loggraph-bench-load-%d.log", time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve", "--addr", addr)
	// The readers share one workspace: it may run as many reads at once as there are
	// readers (the default allowance is 4), unless the caller's environment says otherwise.
	cmd.Env = append([]string{fmt.Sprintf("LOGGRAPH_MAX_CONCURRENT_READS=%d", max(cfg.readers, 4))}, os.Environ()...)
	cmd.Env = append(cmd.Env, "DATABASE_URL="+cfg.dbURL, "LOGGRAPH_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProcess{cmd: cmd, base: "http://" + addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("server exited before it was ready (%v); its log: %s", err, logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("server not ready after 2 minutes; its log: %s", logPath)
		}
	}
}

func (p *serverProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// procKB reads a field of /proc/<pid>/status in kB (pid "self": this process).
func procKB(pid, field string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%s/status", field, pid)
}

// retryAfter reads a 429/503's Retry-After (1 s when absent or odd).
func retryAfter(resp *http.Response) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// loadTailSource is the service of the rows the subscribers follow (one in ten).
const loadTailSource = "bench-load-tail"

// loadIngester posts batches of app logs with explicit ids and the time of sending,
// retrying a batch until it is acknowledged (as a shipper does), so that every row
// is stored exactly once whatever the server answered in between. It finishes the
// batch in flight when the run ends.
func loadIngester(ctx context.Context, c *http.Client, base, token string, size int, seed uint64, cur func() *loadRound, acked *atomic.Int64, acks *sync.Map) {
	rng := rand.New(rand.NewPCG(seed, 7))
	levels := []string{"DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"}
	for ctx.Err() == nil {
		var body bytes.Buffer
		// Microseconds, as PostgreSQL stores them: the tail gives back the same instant.
		now := time.Now().UTC().Truncate(time.Microsecond)
		enc := json.NewEncoder(&body)
		for i := 0; i < size; i++ {
			svc := fmt.Sprintf("bench-load-%d", rng.IntN(8))
			if i%10 == 0 {
				svc = loadTailSource
			}
			_ = enc.Encode(map[string]any{"id": uuid.New().String(), "timestamp": now.Format(time.RFC3339Nano),
				"level": levels[rng.IntN(len(levels))], "service": svc,
				"message": fmt.Sprintf("request %d handled in %d ms", rng.IntN(1_000_000), rng.IntN(900))})
		}
		// The batch is retried until acknowledged, even past the end of the run (with
		// a bound), so that the final count is exact.
		finish, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		for {
			r := cur()
			start := time.Now()
			req, _ := http.NewRequestWithContext(finish, http.MethodPost, base+"/v1/ingest/app", bytes.NewReader(body.Bytes()))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := c.Do(req)
			if err != nil {
				if finish.Err() != nil {
					break
				}
				r.add(func(r *loadRound) { r.fiveXX["ingest (transport)"]++ })
				continue
			}
			reply, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				var res struct{ Accepted, Duplicates int }
				_ = json.Unmarshal(reply, &res)
				acked.Add(int64(size))
				// The batch's rows share its timestamp: the subscribers find the batch's
				// acknowledgment by it.
				acks.Store(now.UnixNano(), time.Now())
				elapsed := ms(time.Since(start))
				r.add(func(r *loadRound) { r.ingestRows, r.ingestMs = r.ingestRows+res.Accepted, append(r.ingestMs, elapsed) })
				break
			}
			if resp.StatusCode >= 500 {
				r.add(func(r *loadRound) { r.fiveXX["ingest"]++ })
			}
			if resp.StatusCode == http.StatusTooManyRequests {
				r.add(func(r *loadRound) { r.ingest429++ })
			}
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
				if !sleepCtx(finish, retryAfter(resp)) {
					break
				}
			} else if resp.StatusCode < 500 {
				// A 4xx other than 429 is a bench bug: the rows are valid.
				fmt.Fprintf(os.Stderr, "bench load: ingest answered %d: %s\n", resp.StatusCode, reply)
				break
			}
		}
		cancel()
	}
}

// loadReadQueries are the readers' queries, taken in turn.
var loadReadQueries = []struct {
	query string
	vars  map[string]any
}{
	{`query($f: AppLogFilter) { appLogs(first: 50, filter: $f) { nodes { id timestamp level service message } } }`,
		map[string]any{"f": map[string]any{"services": []string{"payment-gateway"}, "levels": []string{"ERROR", "WARN"}, "time": map[string]any{"last": "24h"}}}},
	{`query($f: LogFilter) { logs(first: 50, filter: $f) { nodes { id kind timestamp severity message source } } }`,
		map[string]any{"f": map[string]any{"time": map[string]any{"last": "24h"}}}},
	{`{ integrationLogs(first: 50) { nodes { id succeeded statusCode integration { name } } } }`, nil},
	{`{ logHistogram(filter: {time: {last: "1h"}}, interval: "5m") { buckets { start count } } }`, nil},
}

func loadReader(ctx context.Context, c *http.Client, base, token string, n int, cur func() *loadRound) {
	for i := n; ctx.Err() == nil; i++ {
		q := loadReadQueries[i%len(loadReadQueries)]
		body, _ := json.Marshal(map[string]any{"query": q.query, "variables": q.vars})
		r := cur()
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				r.add(func(r *loadRound) { r.fiveXX["graphql (transport)"]++ })
			}
			continue
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(start)
		switch {
		case resp.StatusCode >= 500:
			r.add(func(r *loadRound) { r.fiveXX["graphql"]++ })
		case resp.StatusCode == http.StatusTooManyRequests:
			sleepCtx(ctx, retryAfter(resp))
		case bytes.Contains(reply, []byte(`"errors"`)):
			r.add(func(r *loadRound) { r.fiveXX["graphql (errors in 200)"]++ })
		default:
			r.add(func(r *loadRound) { r.readMs = append(r.readMs, ms(elapsed)) })
		}
	}
}

// loadSubscriber follows the tail source's rows over graphql-transport-ws and
// records, for each row, the time from its sending (its timestamp) to its arrival.
// It reconnects when the socket ends.
func loadSubscriber(ctx context.Context, base, token string, cur func() *loadRound, acks *sync.Map) {
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/graphql"
	for ctx.Err() == nil {
		err := func() error {
			conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				return err
			}
			defer conn.CloseNow()
			conn.SetReadLimit(64 << 20)
			if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]string{"authToken": token}}); err != nil {
				return err
			}
			if err := wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
				"query":     `subscription($f: LogFilter) { logTail(filter: $f) { logs { timestamp } dropped } }`,
				"variables": map[string]any{"f": map[string]any{"kinds": []string{"APP"}, "sources": []string{loadTailSource}}},
			}}); err != nil {
				return err
			}
			for {
				var m struct {
					Type    string `json:"type"`
					Payload struct {
						Data struct {
							LogTail struct {
								Logs    []struct{ Timestamp time.Time }
								Dropped int
							}
						}
					}
				}
				if err := wsjson.Read(ctx, conn, &m); err != nil {
					return err
				}
				now := time.Now()
				switch m.Type {
				case "ping":
					if err := wsjson.Write(ctx, conn, map[string]string{"type": "pong"}); err != nil {
						return err
					}
				case "next":
					ev := m.Payload.Data.LogTail
					cur().add(func(r *loadRound) {
						r.tailDropped += ev.Dropped
						for _, l := range ev.Logs {
							r.tailLagMs = append(r.tailLagMs, ms(now.Sub(l.Timestamp)))
							ack := 0.0
							if at, ok := acks.Load(l.Timestamp.UnixNano()); ok {
								ack = max(ms(now.Sub(at.(time.Time))), 0)
							}
							r.tailAckMs = append(r.tailAckMs, ack)
						}
					})
				case "error", "complete":
					return fmt.Errorf("subscription ended: %s", m.Type)
				}
			}
		}()
		if err != nil && ctx.Err() == nil {
			cur().add(func(r *loadRound) { r.fiveXX["tail (socket ended)"]++ })
			sleepCtx(ctx, time.Second)
		}
	}
}

// loadAttack is one request (or a few at once) of the hostile client.
type loadAttack struct {
	name string
	run  func(ctx context.Context, base, token string) ([]int, error)
}

func loadAttacks() []loadAttack {
	post := func(ctx context.Context, url, token, ctype string, body io.Reader) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The outcome is the status and, for an error body, its code: GraphQL's first
		// extensions.code or the /v1 code.
		var out struct {
			Code   string `json:"code"`
			Errors []struct {
				Extensions struct{ Code string } `json:"extensions"`
			} `json:"errors"`
		}
		if json.Unmarshal(reply, &out) == nil && len(out.Errors) > 0 && out.Errors[0].Extensions.Code != "" {
			return resp.StatusCode*1000 + codeIndex(out.Errors[0].Extensions.Code), nil
		}
		if out.Code != "" {
			return resp.StatusCode*1000 + codeIndex(out.Code), nil
		}
		return resp.StatusCode * 1000, nil
	}
	gql := func(query string, anonymous bool) func(ctx context.Context, base, token string) ([]int, error) {
		body, _ := json.Marshal(map[string]string{"query": query})
		return func(ctx context.Context, base, token string) ([]int, error) {
			if anonymous {
				token = ""
			}
			s, err := post(ctx, base+"/graphql", token, "application/json", bytes.NewReader(body))
			return []int{s}, err
		}
	}
	repeat := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(f(i))
		}
		return b.String()
	}
	var days strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&days, `{"timestamp":"%s","level":"INFO","service":"s","message":"m"}`+"\n",
			time.Date(1914, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.RFC3339))
	}
	partitionBatch := days.String()
	var big bytes.Buffer
	for big.Len() < 60<<20 {
		fmt.Fprintf(&big, `{"level":"INFO","service":"bulk","message":"%s"}`+"\n", strings.Repeat("x", 900))
	}
	bigBody := big.Bytes()
	return []loadAttack{
		{"ingest: 3,000 days in one batch", func(ctx context.Context, base, token string) ([]int, error) {
			s, err := post(ctx, base+"/v1/ingest/app", token, "application/x-ndjson", strings.NewReader(partitionBatch))
			return []int{s}, err
		}},
		{"anonymous: 25,000 __typename", gql("{"+strings.Repeat(" __typename", 25000)+" }", true)},
		{"anonymous: 8,000 aliases", gql("{"+repeat(8000, func(i int) string { return fmt.Sprintf(" a%d: __typename", i) })+" }", true)},
		{"2,000 conflicting aliases", gql("{"+repeat(2000, func(i int) string { return fmt.Sprintf(" x: appLogs(first: %d) { totalCount }", i%2+1) })+" }", false)},
		{"anonymous: 7 MB __type name", gql(`{ __type(name: "T`+strings.Repeat("x", 7<<20)+`") { name } }`, true)},
		{"5,000 appLogs aliases", gql("{"+repeat(5000, func(i int) string { return fmt.Sprintf(" a%d: appLogs(first: 1) { nodes { id } }", i) })+" }", false)},
		{"300 logPatterns aliases", gql("{"+repeat(300, func(i int) string { return fmt.Sprintf(" p%d: logPatterns(first: 10) { template count }", i) })+" }", false)},
		{"NUL in a filter", gql(`{ appLogs(filter: {services: ["a\u0000b"]}) { nodes { id } } }`, false)},
		{"details 1e999999", func(ctx context.Context, base, token string) ([]int, error) {
			s, err := post(ctx, base+"/v1/ingest/app", token, "application/x-ndjson",
				strings.NewReader(`{"level":"INFO","service":"s","message":"m","details":{"n":1e999999}}`))
			return []int{s}, err
		}},
		{"4 x 60 MiB ingest at once", func(ctx context.Context, base, token string) ([]int, error) {
			var mu sync.Mutex
			var out []int
			var wg sync.WaitGroup
			var firstErr error
			for i := 0; i < 4; i++ {
				wg.Go(func() {
					s, err := post(ctx, base+"/v1/ingest/app", token, "application/x-ndjson", bytes.NewReader(bigBody))
					mu.Lock()
					defer mu.Unlock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					out = append(out, s)
				})
			}
			wg.Wait()
			return out, firstErr
		}},
		{"burst of 300 requests", func(ctx context.Context, base, token string) ([]int, error) {
			var out []int
			for i := 0; i < 300; i++ {
				s, err := post(ctx, base+"/graphql", token, "application/json", strings.NewReader(`{"query":"{ viewer { role } }"}`))
				if err != nil {
					return out, err
				}
				out = append(out, s)
			}
			return out, nil
		}},
	}
}

// The hostile client's outcomes are status*1000 + the index of the error code in
// loadCodes (0: none), so that a refusal's code shows beside its status.
var (
	loadCodesMu sync.Mutex
	loadCodes   = []string{""}
)

func codeIndex(code string) int {
	loadCodesMu.Lock()
	defer loadCodesMu.Unlock()
	if i := slices.Index(loadCodes, code); i >= 0 {
		return i
	}
	loadCodes = append(loadCodes, code)
	return len(loadCodes) - 1
}

func outcomeName(s int) string {
	loadCodesMu.Lock()
	defer loadCodesMu.Unlock()
	if c := loadCodes[s%1000]; c != "" {
		return fmt.Sprintf("%d %s", s/1000, c)
	}
	return strconv.Itoa(s / 1000)
}

// loadHostile cycles through the attacks while its round is hostile; beside them,
// one connection trickles a request body a byte every 2 s.
func loadHostile(ctx context.Context, base, token string, on <-chan bool, cur func() *loadRound) {
	attacks := loadAttacks()
	active := false
	go trickle(ctx, base, token, cur)
	for i := 0; ctx.Err() == nil; {
		select {
		case <-ctx.Done():
			return
		case active = <-on:
			continue
		default:
		}
		if !active {
			select {
			case <-ctx.Done():
				return
			case active = <-on:
			}
			continue
		}
		a := attacks[i%len(attacks)]
		i++
		r := cur()
		actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		start := time.Now()
		statuses, err := a.run(actx, base, token)
		cancel()
		elapsed := ms(time.Since(start))
		r.add(func(r *loadRound) {
			if r.attacks[a.name] == nil {
				r.attacks[a.name] = map[string]int{}
			}
			for _, s := range statuses {
				r.attacks[a.name][outcomeName(s)]++
				if s >= 500*1000 {
					r.fiveXX["hostile: "+a.name]++
				}
			}
			if err != nil && ctx.Err() == nil {
				r.attacks[a.name]["error: "+err.Error()]++
			}
			r.attackMaxMs[a.name] = max(r.attackMaxMs[a.name], elapsed)
		})
	}
}

// trickle keeps one request body trickling (a byte every 2 s) during hostile
// rounds and records how the server ended it.
func trickle(ctx context.Context, base, token string, cur func() *loadRound) {
	addr := strings.TrimPrefix(base, "http://")
	for ctx.Err() == nil {
		r := cur()
		if !r.hostile {
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		start := time.Now()
		outcome := func() string {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return "dial error"
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1/ingest/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n", token)
			done := make(chan string, 1)
			go func() {
				b, err := io.ReadAll(conn)
				if len(b) > 0 {
					line, _, _ := strings.Cut(string(b), "\r\n")
					done <- "answered: " + line
					return
				}
				done <- fmt.Sprintf("closed (%v)", err)
			}()
			t := time.NewTicker(2 * time.Second)
			defer t.Stop()
			for {
				select {
				case s := <-done:
					return s
				case <-ctx.Done():
					return "run ended"
				case <-t.C:
					if time.Since(start) > 3*time.Minute {
						return "still open after 3 minutes"
					}
					_, _ = conn.Write([]byte("{"))
				}
			}
		}()
		elapsed := ms(time.Since(start))
		name := "trickled body (1 byte / 2 s)"
		r.add(func(r *loadRound) {
			if r.attacks[name] == nil {
				r.attacks[name] = map[string]int{}
			}
			r.attacks[name][outcome]++
			r.attackMaxMs[name] = max(r.attackMaxMs[name], elapsed)
		})
	}
}

// pctOf is pct that answers 0 for no samples (a run without readers or subscribers).
func pctOf(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	return pct(xs, p)
}

func printLoadReport(w io.Writer, cfg loadConfig, rounds []*loadRound) {
	type cond struct {
		ingest, readP50, readP99, lagP50, lagP99, ackP50, ackP99 []float64
	}
	var calm, hostile cond
	fmt.Fprintf(w, "\n| round | hostile | ingest rows/s | ingest 429 | read p50 ms | read p99 ms | reads | tail lag p50 ms | tail lag p99 ms | after ack p50 ms | after ack p99 ms | tail rows | dropped | 5xx | RSS max MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, r := range rounds {
		c := &calm
		if r.hostile {
			c = &hostile
		}
		rate := float64(r.ingestRows) / cfg.round.Seconds()
		c.ingest = append(c.ingest, rate)
		c.readP50, c.readP99 = append(c.readP50, pctOf(r.readMs, 50)), append(c.readP99, pctOf(r.readMs, 99))
		c.lagP50, c.lagP99 = append(c.lagP50, pctOf(r.tailLagMs, 50)), append(c.lagP99, pctOf(r.tailLagMs, 99))
		c.ackP50, c.ackP99 = append(c.ackP50, pctOf(r.tailAckMs, 50)), append(c.ackP99, pctOf(r.tailAckMs, 99))
		n5 := 0
		for _, n := range r.fiveXX {
			n5 += n
		}
		fmt.Fprintf(w, "| %d | %v | %.0f | %d | %.1f | %.1f | %d | %.0f | %.0f | %.0f | %.0f | %d | %d | %d | %.0f |\n", i+1, r.hostile, rate, r.ingest429,
			pctOf(r.readMs, 50), pctOf(r.readMs, 99), len(r.readMs), pctOf(r.tailLagMs, 50), pctOf(r.tailLagMs, 99),
			pctOf(r.tailAckMs, 50), pctOf(r.tailAckMs, 99), len(r.tailLagMs), r.tailDropped, n5, float64(r.rssMaxKB)/1024)
	}
	fmt.Fprintf(w, "\nmedians of rounds | calm | hostile | hostile/calm\n|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		a, b []float64
	}{
		{"ingest rows/s", calm.ingest, hostile.ingest}, {"read p50 ms", calm.readP50, hostile.readP50},
		{"read p99 ms", calm.readP99, hostile.readP99}, {"tail lag p50 ms", calm.lagP50, hostile.lagP50},
		{"tail lag p99 ms", calm.lagP99, hostile.lagP99}, {"tail lag after ack p50 ms", calm.ackP50, hostile.ackP50},
		{"tail lag after ack p99 ms", calm.ackP99, hostile.ackP99},
	} {
		a, b := median(row.a), median(row.b)
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.2f |\n", row.name, a, b, b/a)
	}
	fmt.Fprintf(w, "\n5xx and failures by surface (all rounds):\n")
	total := map[string]int{}
	attacks := map[string]map[string]int{}
	maxMs := map[string]float64{}
	for _, r := range rounds {
		for k, n := range r.fiveXX {
			total[k] += n
		}
		for a, m := range r.attacks {
			if attacks[a] == nil {
				attacks[a] = map[string]int{}
			}
			for s, n := range m {
				attacks[a][s] += n
			}
			maxMs[a] = max(maxMs[a], r.attackMaxMs[a])
		}
	}
	for _, k := range slices.Sorted(mapKeys(total)) {
		fmt.Fprintf(w, "- %s: %d\n", k, total[k])
	}
	if len(total) == 0 {
		fmt.Fprintf(w, "- none\n")
	}
	fmt.Fprintf(w, "\n| attack | answers | slowest ms |\n|---|---|---|\n")
	for _, a := range slices.Sorted(mapKeys(attacks)) {
		var parts []string
		for _, s := range slices.Sorted(mapKeys(attacks[a])) {
			parts = append(parts, fmt.Sprintf("%s x%d", s, attacks[a][s]))
		}
		fmt.Fprintf(w, "| %s | %s | %.0f |\n", a, strings.Join(parts, ", "), maxMs[a])
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
