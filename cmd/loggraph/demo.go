package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/app"
	"github.com/loggraph/loggraph/internal/auth"
	"github.com/loggraph/loggraph/model"
)

// demoSlug is the workspace --demo fills.
const demoSlug = "demo"

// demoTokenName names the admin token --demo prints.
const demoTokenName = "demo admin"

// demoExamples are the records the README's examples ask for that synthetic data
// cannot be relied on to contain: fixed ids (the logContext and shim examples),
// `petstore`, a 5xx from 10.0.0.0/8, details {user_id: 12345}. A line is
// {"kind": <ingest route>, "record": <ingest record>, "ago": <duration>}: a record
// with "ago" has no id and gets the time now minus ago each time it is added (the
// examples that look at the last hour); the others carry their id and time and are
// added idempotently on every start.
//
//go:embed demo_examples.ndjson
var demoExamples []byte

// demoFresh is how recent the demo's newest log must be at start; an older demo is
// topped up with fresh synthetic logs (the analytics examples look at the last day
// or week, the first list example at the last hour).
const demoFresh = time.Hour

// demoSeedDays is how many days of synthetic logs a new demo workspace gets.
const demoSeedDays = 3

// setUpDemo creates workspace demo with sample data once, tops it up on later starts
// (the records the README's examples need, and fresh logs when the newest is older
// than demoFresh), and returns an admin token of it: the one kept in tokenFile if it
// still works, else a new one (revoking the previous demo tokens) written there.
func setUpDemo(ctx context.Context, a *app.App, rows int, tokenFile string, stdout io.Writer) (string, error) {
	wss := db.NewWorkspaceStore(a.DB.Bun)
	ws, err := wss.Create(ctx, demoSlug, "Demo")
	now := time.Now()
	created := err == nil
	seed := db.SeedOptions{Rows: rows, Days: demoSeedDays, Now: now}
	switch {
	case created:
		fmt.Fprintf(stdout, "demo: creating workspace %q with %d sample logs of all five kinds...\n", demoSlug, rows)
	case errors.Is(err, db.ErrWorkspaceExists):
		// Two servers starting at once: the loser finds the winner's workspace.
		if ws, err = wss.BySlug(ctx, demoSlug); err != nil {
			return "", err
		}
		fmt.Fprintf(stdout, "demo: workspace %q already exists; keeping its data\n", demoSlug)
		// Measured before the examples' records of the last hour are added.
		if seed, err = demoTopUp(ctx, a, ws.ID, rows, now, stdout); err != nil {
			return "", err
		}
	default:
		return "", err
	}
	// The examples' records go first: the action log id they name (105) is then
	// stored before the sample logs take the workspace's next action ids.
	if err := addDemoExamples(ctx, a, ws.ID, now, created, stdout); err != nil {
		return "", fmt.Errorf("the README examples' records: %w", err)
	}
	if seed.Rows > 0 {
		if _, err := db.Seed(ctx, a.DB, a.Parts, ws.ID, seed); err != nil {
			return "", err
		}
	}
	return demoToken(ctx, a, ws.ID, tokenFile, stdout)
}

// demoTopUp says what fresh synthetic logs an existing demo gets: none while its
// newest log is at most demoFresh old, else up to demoSeedDays days of them, as many
// per day as a new demo gets.
func demoTopUp(ctx context.Context, a *app.App, ws uuid.UUID, rows int, now time.Time, stdout io.Writer) (db.SeedOptions, error) {
	logs, _, err := db.NewLogStore(a.DB.Bun).Logs(ctx, ws, &model.LogFilter{}, model.Page{Limit: 1})
	if err != nil {
		return db.SeedOptions{}, err
	}
	why, days := "it has no logs", demoSeedDays
	if len(logs) > 0 {
		age := now.Sub(logs[0].Time())
		if age <= demoFresh {
			return db.SeedOptions{}, nil
		}
		why, days = fmt.Sprintf("its newest log is %s old", age.Round(time.Minute)), min(demoSeedDays, int(age/(24*time.Hour))+1)
	}
	n := rows * days / demoSeedDays
	if n > 0 {
		fmt.Fprintf(stdout, "demo: %s; adding %d sample logs over the last %d day(s)...\n", why, n, days)
	}
	return db.SeedOptions{Rows: n, Days: days, Now: now, Seed: now.UnixNano()}, nil
}

// demoExample is one line of demo_examples.ndjson.
type demoExample struct {
	Kind   string          `json:"kind"`
	Ago    string          `json:"ago"`
	Record json.RawMessage `json:"record"`
}

// addDemoExamples ingests the records of demoExamples, one batch per kind, and says
// how many were added: those with an id on every start (a record already stored is a
// duplicate, not added again), those with "ago" when the demo is new or has none in
// the last hour. A batch that contradicts the demo's data (a demo made by an older
// version, whose sample logs took an id the examples name) is reported and skipped.
func addDemoExamples(ctx context.Context, a *app.App, ws uuid.UUID, now time.Time, created bool, stdout io.Writer) error {
	recent := created
	if !recent {
		// The first list example: a WARN or worse "timeout" of the last hour.
		from, warn, search := now.Add(-demoFresh), model.SeverityWarn, "timeout"
		logs, _, err := db.NewLogStore(a.DB.Bun).Logs(ctx, ws, &model.LogFilter{
			Time: &model.TimeRange{From: &from}, MinSeverity: &warn, Search: &search}, model.Page{Limit: 1})
		if err != nil {
			return err
		}
		recent = len(logs) == 0
	}
	bodies := map[model.LogKind]*bytes.Buffer{}
	var order []model.LogKind
	sc := bufio.NewScanner(bytes.NewReader(demoExamples))
	for line := 1; sc.Scan(); line++ {
		var ex demoExample
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		kind, ok := model.KindFromRoute(ex.Kind)
		if !ok {
			return fmt.Errorf("line %d: unknown kind %q", line, ex.Kind)
		}
		rec := ex.Record
		if ex.Ago != "" {
			if !recent {
				continue
			}
			ago, err := time.ParseDuration(ex.Ago)
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(rec, &fields); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			fields[kind.TimeColumn()], _ = json.Marshal(now.Add(-ago).UTC().Format(time.RFC3339Nano))
			if rec, err = json.Marshal(fields); err != nil {
				return err
			}
		}
		if bodies[kind] == nil {
			bodies[kind] = new(bytes.Buffer)
			order = append(order, kind)
		}
		bodies[kind].Write(rec)
		bodies[kind].WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	store := db.NewIngestStore(a.DB.IngestDB(), a.Parts)
	added := 0
	for _, kind := range order {
		batch, err := model.DecodeBatch(kind, bodies[kind], now, model.IngestLimits{})
		if err != nil {
			return fmt.Errorf("%s: %w", kind.Route(), err)
		}
		res, err := store.Ingest(ctx, ws, batch)
		var bad *model.BatchError
		switch {
		case errors.As(err, &bad):
			fmt.Fprintf(stdout, "demo: the README examples' %s records were not added: %v (delete the demo workspace to make it again)\n", kind.Route(), err)
		case err != nil:
			return fmt.Errorf("%s: %w", kind.Route(), err)
		}
		added += res.Accepted
	}
	if added > 0 {
		fmt.Fprintf(stdout, "demo: added %d records the README's examples ask for\n", added)
	}
	return nil
}

// demoToken returns the admin token kept in tokenFile when it still opens the demo
// workspace as admin; otherwise it revokes the earlier demo tokens, creates one and
// keeps it in tokenFile (if given), so that an open playground keeps working across
// restarts.
func demoToken(ctx context.Context, a *app.App, ws uuid.UUID, tokenFile string, stdout io.Writer) (string, error) {
	tokens := db.NewTokenStore(a.DB.Bun)
	if tokenFile != "" {
		if b, err := os.ReadFile(tokenFile); err == nil {
			text := strings.TrimSpace(string(b))
			p, err := tokens.Authenticate(ctx, text)
			switch {
			case err == nil && p.Workspace.ID == ws && p.Role == model.RoleAdmin:
				return text, nil
			case err != nil && !auth.Rejected(err):
				return "", err
			}
		}
	}
	list, err := tokens.List(ctx, ws)
	if err != nil {
		return "", err
	}
	for _, t := range list {
		if t.Name == demoTokenName && t.RevokedAt == nil {
			if _, err := tokens.Revoke(ctx, ws, t.ID); err != nil {
				return "", err
			}
		}
	}
	_, text, err := tokens.Create(ctx, ws, demoTokenName, model.RoleAdmin)
	if err != nil {
		return "", err
	}
	if tokenFile != "" {
		err := os.MkdirAll(filepath.Dir(tokenFile), 0o700)
		if err == nil {
			err = os.WriteFile(tokenFile, []byte(text+"\n"), 0o600)
		}
		if err != nil {
			fmt.Fprintf(stdout, "demo: could not keep the token in %s (%v): the next start prints a new one\n", tokenFile, err)
		}
	}
	return text, nil
}

// defaultDemoTokenFile is where --demo keeps its token: the user's cache directory,
// or nowhere when there is none (a container without HOME).
func defaultDemoTokenFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "loggraph", "demo-token")
}

// printDemoReady tells a newcomer where to go once the server listens: the
// playground (the token set by its link), the token, and how to stop.
func printDemoReady(w io.Writer, base, token, tokenFile string) {
	kept := "a new one on each start: --demo-token-file keeps it"
	if tokenFile != "" {
		kept = "the same on the next start; kept in " + tokenFile
	}
	fmt.Fprintf(w, `
  Ready. Open the playground (the link sets the token), pick the LogHistogram tab and run it:

    %s/playground#token=%s

  Demo admin token for workspace %q (%s):
%s

  For the README's curl examples: export TOKEN=%s
  Ctrl-C stops the server.

`, base, token, demoSlug, kept, token, token)
}
