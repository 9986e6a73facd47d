package graph_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// patLog is one ingested log and what the tests expect of it, computed here from the
// record rather than read back from the server.
type patLog struct {
	kind   model.LogKind
	id     string
	at     time.Time
	sev    model.Severity
	msg    string // the Log interface's message
	search string // the text a LogFilter's search looks in
	src    string // the context source key: logs with equal keys are neighbours
	integ  string // integration deliveries: the integration (context of a job-less one)
	line   string // the ingest record
}

var patRoutes = map[model.LogKind]string{model.KindApp: "app", model.KindAPIRequest: "api-request",
	model.KindIntegration: "integration", model.KindAction: "action", model.KindAPIReference: "api-reference"}

func patTime(at time.Time) string { return at.UTC().Format(time.RFC3339Nano) }

func patAppLog(id string, at time.Time, level model.Severity, service, msg string) patLog {
	line, _ := json.Marshal(map[string]any{"id": id, "timestamp": patTime(at), "level": level.String(), "service": service, "message": msg})
	return patLog{kind: model.KindApp, id: id, at: at, sev: level, msg: msg, search: msg, src: service, line: string(line)}
}

func patRequestLog(id string, at time.Time, code int, collection, endpoint string) patLog {
	line, _ := json.Marshal(map[string]any{"id": id, "received_at": patTime(at), "code": code, "ip": "10.0.0.1", "timing_ms": 5,
		"delay_ms": 1, "collection": collection, "collection_type": "recipe", "endpoint": endpoint})
	return patLog{kind: model.KindAPIRequest, id: id, at: at, sev: model.APIRequestSeverity(code),
		msg: fmt.Sprintf("%d %s %s", code, model.StatusText(code), endpoint), search: endpoint, src: collection, line: string(line)}
}

// integrationLog records a delivery; job may be "" (none). A failed one carries
// errorDetail, a successful one body.
func patIntegrationLog(id string, at time.Time, integ, job string, ok bool, text string) patLog {
	rec := map[string]any{"id": id, "created_at": patTime(at), "integration_id": integ, "integration_name": "hook " + integ[:4],
		"succeeded": ok, "attempt": 1, "status_code": 200}
	if ok {
		rec["body"] = text
	} else {
		rec["status_code"] = 500
		rec["error_detail"] = text
	}
	src := "integration:" + integ
	if job != "" {
		rec["job_id"] = job
		src = "job:" + job
	}
	line, _ := json.Marshal(rec)
	return patLog{kind: model.KindIntegration, id: id, at: at, sev: model.IntegrationSeverity(ok), msg: text, search: text,
		src: src, integ: integ, line: string(line)}
}

func patActionLog(id int, at time.Time, level int, logger, msg string) patLog {
	line, _ := json.Marshal(map[string]any{"id": id, "created_at": patTime(at), "level": level, "logger_name": logger, "message": msg, "app_name": "oms"})
	return patLog{kind: model.KindAction, id: fmt.Sprint(id), at: at, sev: model.ActionSeverity(level), msg: msg, search: msg, src: logger, line: string(line)}
}

func patReferenceLog(id string, at time.Time, ref, title string, errs, alerts int) patLog {
	line, _ := json.Marshal(map[string]any{"logs_id": id, "modified_at": patTime(at), "api_reference_id": ref, "api_reference_name": "Ref " + ref,
		"user_id": "u1", "user_name": "User 1", "title": title, "error_count": errs, "alerts_count": alerts})
	return patLog{kind: model.KindAPIReference, id: id, at: at, sev: model.APIReferenceSeverity(errs, alerts), msg: title, search: title,
		src: ref, line: string(line)}
}

// patIngest posts the logs through the public ingest route, one batch per kind.
func patIngest(t *testing.T, e *testserver.Env, token string, logs []patLog) {
	t.Helper()
	bodies := map[model.LogKind]*strings.Builder{}
	for _, l := range logs {
		if bodies[l.kind] == nil {
			bodies[l.kind] = &strings.Builder{}
		}
		bodies[l.kind].WriteString(l.line + "\n")
	}
	for k, b := range bodies {
		if resp, reply := e.Ingest(patRoutes[k], token, b.String()); resp.StatusCode != 200 {
			t.Fatalf("ingest %s: %d %s", k, resp.StatusCode, reply)
		}
	}
}

type patOut struct {
	Pattern   string    `json:"pattern"`
	Count     int       `json:"count"`
	Severity  string    `json:"severity"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Sample    struct {
		Kind    string `json:"kind"`
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"sample"`
}

// patExpect groups logs by model.MessagePattern and aggregates them here, for
// comparison with the database's grouping.
func patExpect(logs []patLog, first int) ([]patOut, map[string][]string) {
	type agg struct {
		out  patOut
		sevs map[model.Severity]int
	}
	groups := map[string]*agg{}
	members := map[string][]string{}
	for _, l := range logs {
		p := model.MessagePattern(l.msg)
		g := groups[p]
		if g == nil {
			g = &agg{out: patOut{Pattern: p, FirstSeen: l.at, LastSeen: l.at}, sevs: map[model.Severity]int{}}
			groups[p] = g
		}
		g.out.Count++
		g.sevs[l.sev]++
		if l.at.Before(g.out.FirstSeen) {
			g.out.FirstSeen = l.at
		}
		if l.at.After(g.out.LastSeen) {
			g.out.LastSeen = l.at
		}
		members[p] = append(members[p], string(l.kind)+" "+l.id)
	}
	var out []patOut
	for _, g := range groups {
		best, bestN := model.Severity(0), -1
		for s, n := range g.sevs {
			if n > bestN || n == bestN && s > best {
				best, bestN = s, n
			}
		}
		g.out.Severity = best.String()
		out = append(out, g.out)
	}
	slices.SortFunc(out, func(a, b patOut) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Pattern, b.Pattern))
	})
	if len(out) > first {
		out = out[:first]
	}
	return out, members
}

const patQueryText = `query($f: LogFilter, $n: Int) { logPatterns(filter: $f, first: $n) {
	pattern count severity firstSeen lastSeen sample { kind id message } } }`

func patQuery(t *testing.T, e *testserver.Env, token string, filter map[string]any, first *int) []patOut {
	t.Helper()
	vars := map[string]any{"f": filter}
	if first != nil {
		vars["n"] = *first
	}
	var r reply[struct{ LogPatterns []patOut }]
	e.GraphQL(token, patQueryText, vars, &r)
	if len(r.Errors) > 0 {
		t.Fatalf("logPatterns %v: %+v", filter, r.Errors)
	}
	return r.Data.LogPatterns
}

// patCheck compares the answer with the expectation field by field, and each
// sample with the template's members.
func patCheck(t *testing.T, name string, got, want []patOut, members map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d patterns, want %d\n got %+v\nwant %+v", name, len(got), len(want), got, want)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Pattern != w.Pattern || g.Count != w.Count || g.Severity != w.Severity ||
			!g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) {
			t.Errorf("%s: pattern %d\n got %+v\nwant %+v", name, i, g, w)
			continue
		}
		if !slices.Contains(members[w.Pattern], g.Sample.Kind+" "+g.Sample.ID) || model.MessagePattern(g.Sample.Message) != w.Pattern {
			t.Errorf("%s: pattern %q has sample %+v, not one of %v", name, w.Pattern, g.Sample, members[w.Pattern])
		}
	}
}

func patUUID(prefix, n int) string { return fmt.Sprintf("%08d-0000-7000-8000-%012d", prefix, n) }

// patLogs is a mixed data set: one template spread over two kinds with a
// severity tie, templates of every kind, and one log outside the window.
func patLogs(base time.Time) []patLog {
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	logs := []patLog{
		patAppLog(patUUID(1, 1), m(0), model.SeverityInfo, "api", "User 1 logged in from 10.0.0.1"),
		patAppLog(patUUID(1, 2), m(1), model.SeverityInfo, "api", "User 22 logged in from 10.0.0.2"),
		patAppLog(patUUID(1, 3), m(2), model.SeverityWarn, "api", "User 333 logged in from 192.168.0.1:8080"),
		patAppLog(patUUID(1, 4), m(3), model.SeverityWarn, "web", "User 4 logged in from ::1"),
		patAppLog(patUUID(1, 5), m(4), model.SeverityError, "web", "User 5 logged in from fe80::2"),
		patAppLog(patUUID(1, 6), m(5), model.SeverityDebug, "api", "cache miss for key 'a'"),
		patAppLog(patUUID(1, 7), m(6), model.SeverityDebug, "api", "cache miss for key 'b c'"),
		patAppLog(patUUID(1, 8), m(7), model.SeverityInfo, "api", "cache miss for key \"d\""),
		patAppLog(patUUID(1, 9), m(8), model.SeverityInfo, "api", "job 3f2b1c9e-0a4d-4c1e-9b7f-1234567890ab done at 2024-06-13T12:08:00Z"),
		patActionLog(1001, m(9), 40, "orders", "User 9 logged in from 10.9.9.9"),
		patActionLog(1002, m(10), 10, "orders", "sent mail to bob@example.com"),
		patActionLog(1003, m(11), 50, "orders", "sent mail to alice@example.org"),
		patRequestLog(patUUID(2, 1), m(1), 200, "Orders", "GET /items/1"),
		patRequestLog(patUUID(2, 2), m(2), 200, "Orders", "GET /items/2"),
		patRequestLog(patUUID(2, 3), m(3), 404, "Orders", "GET /items/3"),
		patRequestLog(patUUID(2, 4), m(4), 503, "Orders", "GET /items/0x1f"),
		patIntegrationLog(patUUID(3, 1), m(2), "aaaaaaaa-0000-4000-8000-000000000001", "", false, "timeout after 30s calling deadbeef42"),
		patIntegrationLog(patUUID(3, 2), m(3), "aaaaaaaa-0000-4000-8000-000000000001", "", false, "timeout after 5s calling cafe0123"),
		patIntegrationLog(patUUID(3, 3), m(4), "aaaaaaaa-0000-4000-8000-000000000001", "", true, `{"ok":true}`),
		patReferenceLog("ref-log-01", m(5), "ref-1", "Import 1", 1, 0),
		patReferenceLog("ref-log-02", m(6), "ref-1", "Import 2", 0, 1),
		patReferenceLog("ref-log-03", m(7), "ref-1", "Import 3", 0, 0),
	}
	// One id at two times (an id is unique only with its time), each the only log of
	// its template: each sample must be the row of its own message.
	logs = append(logs, patAppLog(patUUID(1, 50), m(30), model.SeverityInfo, "api", "reused id, first text"),
		patAppLog(patUUID(1, 50), m(31), model.SeverityInfo, "api", "reused id, other text"))
	// Outside the window: counted by no query below.
	return append(logs, patAppLog(patUUID(1, 99), base.Add(-3*time.Hour), model.SeverityFatal, "api", "User 99 logged in from 10.0.0.9"))
}

func TestLogPatterns(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	base := time.Date(2024, 6, 13, 12, 0, 0, 0, time.UTC)
	logs := patLogs(base)
	patIngest(t, e, e.Tokens[model.RoleIngest], logs)
	inWindow := slices.DeleteFunc(slices.Clone(logs), func(l patLog) bool { return l.at.Before(base) })
	window := map[string]any{"from": patTime(base.Add(-time.Hour)), "to": patTime(base.Add(time.Hour))}
	read := e.Tokens[model.RoleRead]
	intp := func(n int) *int { return &n }

	t.Run("all kinds", func(t *testing.T) {
		want, members := patExpect(inWindow, 1000)
		// Hand-checked anchors of the independent computation: the login template
		// spans APP and ACTION; its severities INFO 2, WARN 2, ERROR 2 tie, and the most
		// severe wins.
		if want[0].Pattern != "User <num> logged in from <ip>" || want[0].Count != 6 || want[0].Severity != "ERROR" {
			t.Fatalf("expectation is off: %+v", want[0])
		}
		patCheck(t, "all kinds", patQuery(t, e, read, map[string]any{"time": window}, intp(1000)), want, members)
	})
	t.Run("first", func(t *testing.T) {
		want, members := patExpect(inWindow, 3)
		patCheck(t, "first 3", patQuery(t, e, read, map[string]any{"time": window}, intp(3)), want, members)
	})
	t.Run("kind filter", func(t *testing.T) {
		kept := slices.DeleteFunc(slices.Clone(inWindow), func(l patLog) bool { return l.kind != model.KindAPIRequest })
		want, members := patExpect(kept, 20)
		patCheck(t, "API requests", patQuery(t, e, read, map[string]any{"time": window, "kinds": []string{"API_REQUEST"}}, nil), want, members)
	})
	t.Run("search", func(t *testing.T) {
		kept := slices.DeleteFunc(slices.Clone(inWindow), func(l patLog) bool { return !strings.Contains(strings.ToLower(l.search), "logged") })
		want, members := patExpect(kept, 20)
		if len(want) != 1 || want[0].Count != 6 {
			t.Fatalf("expectation is off: %+v", want)
		}
		patCheck(t, "search", patQuery(t, e, read, map[string]any{"time": window, "search": "LOGGED"}, nil), want, members)
	})
	t.Run("severity filter", func(t *testing.T) {
		kept := slices.DeleteFunc(slices.Clone(inWindow), func(l patLog) bool { return l.sev < model.SeverityWarn })
		want, members := patExpect(kept, 20)
		patCheck(t, "minSeverity", patQuery(t, e, read, map[string]any{"time": window, "minSeverity": "WARN"}, nil), want, members)
	})
	t.Run("empty window", func(t *testing.T) {
		got := patQuery(t, e, read, map[string]any{"time": map[string]any{"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"}}, nil)
		if len(got) != 0 {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("default window is the last 24 hours", func(t *testing.T) {
		// Relative to the real clock: the 2024 rows above are all older.
		now := time.Now().UTC().Truncate(time.Microsecond)
		recent := []patLog{
			patAppLog(patUUID(4, 1), now.Add(-time.Hour), model.SeverityInfo, "api", "recent 1"),
			patAppLog(patUUID(4, 2), now.Add(-2*time.Hour), model.SeverityWarn, "api", "recent 2"),
			patAppLog(patUUID(4, 3), now.Add(-25*time.Hour), model.SeverityWarn, "api", "recent 3"),
			// Future-dated (a client's clock ahead): past the window's end, now.
			patAppLog(patUUID(4, 4), now.Add(time.Hour), model.SeverityWarn, "api", "future 4"),
		}
		patIngest(t, e, e.Tokens[model.RoleIngest], recent)
		want, members := patExpect(recent[:2], 20)
		patCheck(t, "default window", patQuery(t, e, read, nil, nil), want, members)
	})
	t.Run("only an end: the 24 hours before it", func(t *testing.T) {
		to := base.Add(time.Hour)
		kept := slices.DeleteFunc(slices.Clone(logs), func(l patLog) bool { return l.at.Before(to.Add(-24 * time.Hour)) })
		if len(kept) != len(logs) {
			t.Fatalf("expectation is off: the old log should be within the 24 hours")
		}
		want, members := patExpect(kept, 1000)
		patCheck(t, "to only", patQuery(t, e, read, map[string]any{"time": map[string]any{"to": patTime(to)}}, intp(1000)), want, members)
	})
	t.Run("a start in the future is an empty window", func(t *testing.T) {
		if got := patQuery(t, e, read, map[string]any{"time": map[string]any{"from": "2999-01-01T00:00:00Z"}}, nil); len(got) != 0 {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("bad time range", func(t *testing.T) {
		var r reply[json.RawMessage]
		e.GraphQL(read, patQueryText, map[string]any{"f": map[string]any{"time": map[string]any{"last": "1h", "from": patTime(base)}}}, &r)
		onlyError(t, r.Errors, "BAD_USER_INPUT", "time: give either last or from/to, not both")
	})
	t.Run("first out of range", func(t *testing.T) {
		for _, n := range []int{0, -1, 1001} {
			var r reply[json.RawMessage]
			e.GraphQL(read, patQueryText, map[string]any{"n": n}, &r)
			onlyError(t, r.Errors, "BAD_USER_INPUT", fmt.Sprintf("first: %d is not between 1 and 1000", n))
		}
	})
	t.Run("workspace isolation", func(t *testing.T) {
		ctx := context.Background()
		wsB, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "other-patterns", "")
		if err != nil {
			t.Fatal(err)
		}
		_, readB, err := e.Store.Create(ctx, wsB.ID, "b", model.RoleRead)
		if err != nil {
			t.Fatal(err)
		}
		_, ingestB, err := e.Store.Create(ctx, wsB.ID, "bi", model.RoleIngest)
		if err != nil {
			t.Fatal(err)
		}
		if got := patQuery(t, e, readB, map[string]any{"time": window}, nil); len(got) != 0 {
			t.Fatalf("B sees A's patterns: %+v", got)
		}
		// B's one log with A's top template: counted alone, and A's counts unchanged.
		own := []patLog{patAppLog(patUUID(5, 1), base, model.SeverityFatal, "api", "User 7 logged in from 10.0.0.7")}
		patIngest(t, e, ingestB, own)
		want, members := patExpect(own, 20)
		patCheck(t, "B", patQuery(t, e, readB, map[string]any{"time": window}, nil), want, members)
		wantA, membersA := patExpect(inWindow, 1000)
		patCheck(t, "A after B", patQuery(t, e, read, map[string]any{"time": window}, intp(1000)), wantA, membersA)
	})
	t.Run("needs a token", func(t *testing.T) {
		var r reply[json.RawMessage]
		e.GraphQL("", patQueryText, nil, &r)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
			t.Fatalf("%+v", r.Errors)
		}
	})
}

type patCorpusCase struct {
	Msg  string `json:"msg"`
	Want string `json:"want"`
}

func patCorpus(t *testing.T) []patCorpusCase {
	t.Helper()
	b, err := os.ReadFile("../model/testdata/patterns.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []patCorpusCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestPatternSQLMatchesGo: the database's regexp_replace chain (db.PatternSQL) and
// model.MessagePattern give the same template for every message of the corpus, so
// the rules really are in the subset both regexp engines read alike; and the
// templates logPatterns returns for ingested messages are MessagePattern's.
func TestPatternSQLMatchesGo(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	cases := patCorpus(t)
	msgs := make([]string, len(cases))
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			msgs[i] = c.Msg
		})
	}
	var got []string
	err := e.DB.Bun.NewSelect().
		ColumnExpr("?", db.PatternSQL(bun.Safe("m.msg"))).
		TableExpr("unnest(?::text[]) WITH ORDINALITY AS m(msg, n)", pgdialect.Array(msgs)).
		OrderExpr("m.n").Scan(context.Background(), &got)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if goPattern := model.MessagePattern(c.Msg); got[i] != goPattern || got[i] != c.Want {
				t.Errorf("%q: SQL %q, Go %q, want %q", c.Msg, got[i], goPattern, c.Want)
			}
		})
	}

	// Through the API: each non-empty corpus message as an app log.
	base := time.Date(2024, 6, 14, 0, 0, 0, 0, time.UTC)
	var logs []patLog
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if strings.TrimSpace(c.Msg) != "" {
				logs = append(logs, patAppLog(patUUID(6, i), base.Add(time.Duration(i)*time.Second), model.SeverityInfo, "corpus", c.Msg))
			}
		})
	}
	patIngest(t, e, e.Tokens[model.RoleIngest], logs)
	want, members := patExpect(logs, 1000)
	n := 1000
	patCheck(t, "corpus", patQuery(t, e, e.Tokens[model.RoleRead],
		map[string]any{"time": map[string]any{"from": patTime(base), "to": patTime(base.Add(time.Hour))}}, &n), want, members)
}

// patContextLogs: per kind, two sources interleaved; APP has 25 logs of one source
// (to see the default of 10 per side) and three logs of one instant (ties).
func patContextLogs(base time.Time) []patLog {
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	var logs []patLog
	for i := range 25 {
		at := m(i)
		if i >= 10 && i <= 12 {
			at = m(10) // ties, ordered by id
		}
		logs = append(logs, patAppLog(patUUID(11, i), at, model.SeverityInfo, "svc-a", fmt.Sprintf("a %d", i)))
		logs = append(logs, patAppLog(patUUID(12, i), at, model.SeverityInfo, "svc-b", fmt.Sprintf("b %d", i)))
	}
	const integA, integB = "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"
	const job1, job2 = "bbbbbbbb-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	for i := range 6 {
		logs = append(logs,
			patRequestLog(patUUID(21, i), m(i), 200, []string{"Orders", "Users"}[i%2], fmt.Sprintf("GET /r/%d", i)),
			patActionLog(2000+i, m(i), 20, []string{"orders", "users"}[i%2], fmt.Sprintf("act %d", i)),
			patReferenceLog(fmt.Sprintf("ctx-log-%02d", i), m(i), []string{"ref-1", "ref-2"}[i%2], fmt.Sprintf("Import %d", i), 0, 0),
			// Integration A: jobs 1 and 2 and job-less deliveries; B: job-less only.
			patIntegrationLog(patUUID(31, i), m(i), integA, []string{job1, job2, ""}[i%3], true, fmt.Sprintf("A %d", i)),
			patIntegrationLog(patUUID(32, i), m(i), integB, "", true, fmt.Sprintf("B %d", i)),
		)
	}
	return logs
}

// patIDKey orders ids as the database does: action ids are numbers.
func patIDKey(l patLog) string {
	if l.kind == model.KindAction {
		return fmt.Sprintf("%020s", l.id)
	}
	return l.id
}

// patExpectContext picks the anchor's neighbours from the ingested logs.
func patExpectContext(logs []patLog, kind model.LogKind, id string, before, after int) (anchor patLog, b, a []string) {
	i := slices.IndexFunc(logs, func(l patLog) bool { return l.kind == kind && l.id == id })
	anchor = logs[i]
	same := func(l patLog) bool {
		if l.kind != kind {
			return false
		}
		if kind == model.KindIntegration && strings.HasPrefix(anchor.src, "integration:") {
			return l.integ == anchor.integ
		}
		return l.src == anchor.src
	}
	var src []patLog
	for _, l := range logs {
		if same(l) {
			src = append(src, l)
		}
	}
	slices.SortFunc(src, func(x, y patLog) int { return cmp.Or(x.at.Compare(y.at), strings.Compare(patIDKey(x), patIDKey(y))) })
	at := slices.IndexFunc(src, func(l patLog) bool { return l.id == id })
	for _, l := range src[max(0, at-before):at] {
		b = append(b, l.id)
	}
	for _, l := range src[at+1 : min(len(src), at+1+after)] {
		a = append(a, l.id)
	}
	return anchor, b, a
}

type patContextOut struct {
	Log *struct {
		ID     string `json:"id"`
		Source string `json:"source"`
	} `json:"log"`
	Before []struct{ ID string } `json:"before"`
	After  []struct{ ID string } `json:"after"`
}

const patContextQueryText = `query($k: LogKind!, $id: ID!, $b: Int, $a: Int) { logContext(kind: $k, id: $id, before: $b, after: $a) {
	log { id source } before { id } after { id } } }`

func patQueryContext(t *testing.T, e *testserver.Env, token string, kind model.LogKind, id string, before, after *int) *patContextOut {
	t.Helper()
	vars := map[string]any{"k": string(kind), "id": id}
	if before != nil {
		vars["b"] = *before
	}
	if after != nil {
		vars["a"] = *after
	}
	var r reply[struct{ LogContext *patContextOut }]
	e.GraphQL(token, patContextQueryText, vars, &r)
	if len(r.Errors) > 0 {
		t.Fatalf("logContext %s %s: %+v", kind, id, r.Errors)
	}
	return r.Data.LogContext
}

func patIDs(xs []struct{ ID string }) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.ID)
	}
	return out
}

func TestLogContext(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	base := time.Date(2024, 6, 13, 12, 0, 0, 0, time.UTC)
	logs := patContextLogs(base)
	patIngest(t, e, e.Tokens[model.RoleIngest], logs)
	read := e.Tokens[model.RoleRead]
	intp := func(n int) *int { return &n }

	cases := []struct {
		name          string
		kind          model.LogKind
		id            string
		before, after *int
		wantB, wantA  int // the expected list lengths, as a check on the expectation
	}{
		{"app defaults", model.KindApp, patUUID(11, 15), nil, nil, 10, 9},
		{"app tie anchor", model.KindApp, patUUID(11, 11), intp(3), intp(3), 3, 3},
		{"app first of its instant", model.KindApp, patUUID(11, 10), intp(1), intp(2), 1, 2},
		{"app at the beginning", model.KindApp, patUUID(11, 0), intp(5), intp(2), 0, 2},
		{"app at the end", model.KindApp, patUUID(11, 24), intp(2), intp(5), 2, 0},
		{"app fewer than asked", model.KindApp, patUUID(11, 2), intp(1000), intp(0), 2, 0},
		{"api request same collection", model.KindAPIRequest, patUUID(21, 2), intp(5), intp(5), 1, 1},
		{"integration same job", model.KindIntegration, patUUID(31, 3), intp(5), intp(5), 1, 0},
		{"integration without job: same integration", model.KindIntegration, patUUID(31, 2), intp(5), intp(5), 2, 3},
		{"action same logger", model.KindAction, "2003", intp(1), intp(5), 1, 1},
		{"api reference same reference", model.KindAPIReference, "ctx-log-02", intp(5), intp(5), 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nb, na := 10, 10
			if c.before != nil {
				nb = *c.before
			}
			if c.after != nil {
				na = *c.after
			}
			anchor, wantB, wantA := patExpectContext(logs, c.kind, c.id, nb, na)
			if len(wantB) != c.wantB || len(wantA) != c.wantA {
				t.Fatalf("expectation is off: before %v after %v", wantB, wantA)
			}
			got := patQueryContext(t, e, read, c.kind, c.id, c.before, c.after)
			if got == nil || got.Log == nil || got.Log.ID != anchor.id {
				t.Fatalf("got %+v, want anchor %s", got, anchor.id)
			}
			if b := patIDs(got.Before); !slices.Equal(b, wantB) {
				t.Errorf("before = %v, want %v", b, wantB)
			}
			if a := patIDs(got.After); !slices.Equal(a, wantA) {
				t.Errorf("after = %v, want %v", a, wantA)
			}
		})
	}

	t.Run("tie order is by id", func(t *testing.T) {
		// a 10, a 11, a 12 share one instant; around a 11 they come in id order.
		got := patQueryContext(t, e, read, model.KindApp, patUUID(11, 11), intp(1), intp(1))
		if b, a := patIDs(got.Before), patIDs(got.After); !slices.Equal(b, []string{patUUID(11, 10)}) || !slices.Equal(a, []string{patUUID(11, 12)}) {
			t.Fatalf("before %v after %v", b, a)
		}
	})
	t.Run("not found is null", func(t *testing.T) {
		for _, c := range []struct {
			kind model.LogKind
			id   string
		}{{model.KindApp, uuid.NewString()}, {model.KindApp, "not-a-uuid"}, {model.KindAction, "999999"},
			{model.KindAction, "x"}, {model.KindAPIReference, "nope"}, {model.KindIntegration, patUUID(21, 1)}} {
			t.Run(fmt.Sprint(c.kind), func(t *testing.T) {
				if got := patQueryContext(t, e, read, c.kind, c.id, nil, nil); got != nil {
					t.Errorf("%s %s: got %+v", c.kind, c.id, got)
				}
			})
		}
	})
	t.Run("another workspace's log is null", func(t *testing.T) {
		ctx := context.Background()
		wsB, err := db.NewWorkspaceStore(e.DB.Bun).Create(ctx, "other-context", "")
		if err != nil {
			t.Fatal(err)
		}
		_, readB, err := e.Store.Create(ctx, wsB.ID, "b", model.RoleRead)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []patLog{logs[0], logs[len(logs)-1]} {
			if got := patQueryContext(t, e, readB, l.kind, l.id, nil, nil); got != nil {
				t.Errorf("%s %s: B got %+v", l.kind, l.id, got)
			}
		}
	})
	t.Run("bad counts", func(t *testing.T) {
		for _, c := range []struct {
			arg string
			n   int
		}{{"b", -1}, {"a", 1001}} {
			t.Run(c.arg, func(t *testing.T) {
				var r reply[json.RawMessage]
				e.GraphQL(read, patContextQueryText, map[string]any{"k": "APP", "id": patUUID(11, 1), c.arg: c.n}, &r)
				name := map[string]string{"b": "before", "a": "after"}[c.arg]
				onlyError(t, r.Errors, "BAD_USER_INPUT", fmt.Sprintf("%s: %d is not between 0 and 1000", name, c.n))
			})
		}
	})
}

// TestPatternsSayWhetherRollupsAnswered: extensions.stats.analytics says logPatterns
// came from log_pattern_rollups, or why it read the rows.
func TestPatternsSayWhetherRollupsAnswered(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	for _, c := range []struct {
		name, filter, want string
	}{
		{"rollup", `time: {from: "2024-06-13T12:00:00Z", to: "2024-06-13T13:00:00Z"}, minSeverity: WARN, sources: ["a"]`,
			`[{"query":"patterns","rollup":true}]`},
		{"search", `time: {from: "2024-06-13T12:00:00Z", to: "2024-06-13T13:00:00Z"}, search: "m"`,
			`[{"query":"patterns","rollup":false,"reason":"the filter sets search, which only the rows can answer"}]`},
		{"short window", `time: {from: "2024-06-13T12:01:00Z", to: "2024-06-13T12:16:00Z"}`,
			`[{"query":"patterns","rollup":false,"reason":"the window holds no whole 15-minute slot"}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r struct {
				Errors     []any `json:"errors"`
				Extensions struct {
					Stats struct {
						Analytics json.RawMessage `json:"analytics"`
					} `json:"stats"`
				} `json:"extensions"`
			}
			e.GraphQL(e.Tokens[model.RoleRead], `{ logPatterns(filter: {`+c.filter+`}) { pattern } }`, nil, &r)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if string(r.Extensions.Stats.Analytics) != c.want {
				t.Fatalf("analytics %s, want %s", r.Extensions.Stats.Analytics, c.want)
			}
		})
	}
}
