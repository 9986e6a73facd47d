package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/internal/testwait"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

type statsReply struct {
	Data       map[string]json.RawMessage `json:"data"`
	Errors     []gqlError                 `json:"errors"`
	Extensions struct {
		Stats struct {
			DurationMs    float64 `json:"durationMs"`
			SQLStatements int     `json:"sqlStatements"`
		} `json:"stats"`
	} `json:"extensions"`
}

func statements(t *testing.T, e *testserver.Env, q string) (int, statsReply) {
	t.Helper()
	var r statsReply
	e.GraphQL(e.Tokens[model.RoleRead], q, nil, &r)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	return r.Extensions.Stats.SQLStatements, r
}

// TestNestedConnectionsAreBatched: 20 integrations x 5 jobs x 5 logs, each log with
// its integration's name, in 4 statements (integrations, jobs, logs, integration names).
func TestNestedConnectionsAreBatched(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var b strings.Builder
	base := time.Date(2024, 6, 13, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 20; i++ {
		for j := 0; j < 5; j++ {
			for k := 0; k < 5; k++ {
				fmt.Fprintf(&b, `{"integration_id":"aaaaaaaa-0000-4000-8000-%012d","integration_name":"hook %d","job_id":"bbbbbbbb-0000-4000-8000-%06d%06d","succeeded":true,"attempt":%d,"status_code":200,"created_at":%q}`+"\n",
					i, i, i, j, k+1, base.Add(time.Duration(i*100+j*10+k)*time.Second).Format(time.RFC3339))
			}
		}
	}
	if resp, body := e.Ingest("integration", e.Tokens[model.RoleIngest], b.String()); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	n, r := statements(t, e, `{ integrations(first: 20) { nodes { name jobs(first: 5) { nodes { id logs(first: 5) { nodes { id integration { name } } } } } } } }`)
	var got struct {
		Nodes []struct {
			Name string
			Jobs struct {
				Nodes []struct {
					Logs struct {
						Nodes []struct{ Integration struct{ Name string } }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data["integrations"], &got); err != nil {
		t.Fatal(err)
	}
	logs := 0
	for _, in := range got.Nodes {
		for _, j := range in.Jobs.Nodes {
			for _, l := range j.Logs.Nodes {
				if l.Integration.Name != in.Name {
					t.Fatalf("log of %s names %s", in.Name, l.Integration.Name)
				}
				logs++
			}
		}
	}
	if len(got.Nodes) != 20 || logs != 500 {
		t.Fatalf("%d integrations, %d logs", len(got.Nodes), logs)
	}
	if n > 4 {
		t.Fatalf("%d statements, want at most 4", n)
	}
	if n < 4 {
		t.Fatalf("%d statements: the counter misses some (want exactly 4 here)", n)
	}
}

// TestLogsWithEveryRelation: 100 logs of every kind with every relation take one
// statement for the page plus one per relation type.
func TestLogsWithEveryRelation(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	tok := e.Tokens[model.RoleIngest]
	base := time.Date(2024, 6, 13, 0, 0, 0, 0, time.UTC)
	var req, integ, ref strings.Builder
	for i := 0; i < 40; i++ {
		ts := base.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		fmt.Fprintf(&req, `{"received_at":%q,"code":200,"ip":"10.0.0.1","timing_ms":1,"delay_ms":0,"collection":"c%d","collection_type":"proxy","endpoint":"e","client":"cl%d"}`+"\n", ts, i%7, i%5)
		fmt.Fprintf(&integ, `{"integration_id":"aaaaaaaa-0000-4000-8000-%012d","job_id":"bbbbbbbb-0000-4000-8000-%012d","succeeded":false,"attempt":1,"status_code":500,"created_at":%q}`+"\n", i%6, i, ts)
		fmt.Fprintf(&ref, `{"api_reference_id":"r%d","user_id":"u%d","user_name":"U","title":"t","modified_at":%q,"error_count":0,"alerts_count":0}`+"\n", i%4, i%3, ts)
	}
	for kind, body := range map[string]string{"api-request": req.String(), "integration": integ.String(), "api-reference": ref.String()} {
		if resp, reply := e.Ingest(kind, tok, body); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, reply)
		}
	}
	n, r := statements(t, e, `{ logs(first: 100) { nodes { id kind source
		... on ApiRequestLog { collection { name type } client { name } }
		... on IntegrationLog { integration { id name } job { id integration { id } } }
		... on ApiReferenceLog { apiReference { name } user { name } } } } }`)
	var got struct{ Nodes []map[string]any }
	if err := json.Unmarshal(r.Data["logs"], &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != 100 {
		t.Fatalf("%d logs", len(got.Nodes))
	}
	// 1 page + collection, client, integration, job, api reference, user.
	if n > 7 {
		t.Fatalf("%d statements, want at most 7", n)
	}
}

// TestPartialPagesAreAnnouncedExactly: pages that hold fewer rows than were fetched
// (the extra row that tells whether a next page exists) must announce only the rows
// they show: the next level loads the children of exactly the announced parents, in
// one statement, and a parent left out would cost a statement of its own.
func TestPartialPagesAreAnnouncedExactly(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var b strings.Builder
	base := time.Date(2024, 6, 13, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ {
		for j := 0; j < 5; j++ {
			fmt.Fprintf(&b, `{"integration_id":"aaaaaaaa-0000-4000-8000-%012d","job_id":"bbbbbbbb-0000-4000-8000-%06d%06d","succeeded":false,"attempt":1,"status_code":500,"created_at":%q}`+"\n",
				i, i, j, base.Add(time.Duration(i*10+j)*time.Second).Format(time.RFC3339))
		}
	}
	if resp, body := e.Ingest("integration", e.Tokens[model.RoleIngest], b.String()); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	done := make(chan int, 1)
	go func() {
		n, _ := statements(t, e, `{ integrations(first: 3) { nodes { jobs(first: 2) { totalCount nodes { id logs(first: 1) { totalCount nodes { job { id } } } } } } } }`)
		done <- n
	}()
	select {
	case n := <-done:
		// integrations, jobs, job counts, logs, log counts, jobs of logs
		if n != 6 {
			t.Fatalf("%d statements, want 6", n)
		}
	case <-time.After(testwait.Safety):
		t.Fatal("a batch waited for parents that never asked")
	}
}

// TestJobLogsArrivingOutOfOrder: a job's logs are bounded in time by the job's
// creation (its nested pages prune the partitions before it), so a delivery older
// than every one stored for the job makes it older: the job keeps all its logs.
func TestJobLogsArrivingOutOfOrder(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	line := func(at time.Time, attempt int) string {
		return fmt.Sprintf(`{"integration_id":"aaaaaaaa-0000-4000-8000-000000000001","job_id":"bbbbbbbb-0000-4000-8000-000000000001","succeeded":false,"attempt":%d,"status_code":500,"created_at":%q}`+"\n",
			attempt, at.Format(time.RFC3339))
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, body := range []string{line(now.Add(-time.Hour), 2), line(now.Add(-50*time.Hour), 1)} {
		if resp, b := e.Ingest("integration", e.Tokens[model.RoleIngest], body); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	_, r := statements(t, e, `{ integrations(first: 1) { nodes { jobs(first: 1) { nodes { createdAt logs(first: 5) { nodes { attempt createdAt } } } } } } }`)
	var got struct {
		Nodes []struct {
			Jobs struct {
				Nodes []struct {
					CreatedAt time.Time
					Logs      struct{ Nodes []struct{ Attempt int } }
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data["integrations"], &got); err != nil {
		t.Fatal(err)
	}
	jobs := got.Nodes[0].Jobs.Nodes
	if len(jobs) != 1 || !jobs[0].CreatedAt.Equal(now.Add(-50*time.Hour)) || len(jobs[0].Logs.Nodes) != 2 ||
		jobs[0].Logs.Nodes[0].Attempt != 2 || jobs[0].Logs.Nodes[1].Attempt != 1 {
		t.Fatalf("%s", r.Data["integrations"])
	}
}
