package rest_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// The TestSeedClient tests drive a client written from each seed document alone
// (shared/seeds/000..004): only the documented path, header, parameters and fields,
// read the way a straightforward client reads them (a timestamp parsed in the
// documented format, a documented string read as a string, paging as documented until
// the end), against data that needs more than one page. Each checks that the client
// got every row exactly once.

// seedClientGet is the clients' one HTTP call: a GET of an absolute URL with the
// document's auth header (name, value), answering the body of a 200; anything else
// fails the test, since a documented client has no other path.
func seedClientGet(t *testing.T, rawURL, header, value string) []byte {
	t.Helper()
	resp, body := rawGet(t, http.DefaultClient, rawURL, header, value)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", rawURL, resp.StatusCode, body)
	}
	return []byte(body)
}

// rawGet sends a GET with one header exactly as given on the wire (api_token stays
// lower case; none when value is empty) and reads the whole answer.
func rawGet(t *testing.T, c *http.Client, rawURL, header, value string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if value != "" {
		req.Header[header] = []string{value}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// seedClientTime parses a timestamp as a client written from a document that shows
// YYYY-MM-DDTHH:MM:SSZ does (jq's fromdateiso8601 takes exactly this).
func seedClientTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse("2006-01-02T15:04:05Z", s)
	if err != nil {
		t.Fatalf("timestamp %q is not YYYY-MM-DDTHH:MM:SSZ: %v", s, err)
	}
	return ts
}

// seedClientAllOnce checks that got lists every id of want exactly once.
func seedClientAllOnce(t *testing.T, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("the client got %d rows, want each of %d once", len(got), len(want))
	}
}

// seedClientTimes are n times one minute apart before now, each with a fraction of
// a second (so that whole-second output is exercised), newest first.
func seedClientTimes(n int) []time.Time {
	base := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(n+1) * time.Minute)
	out := make([]time.Time, n)
	for i := range out {
		out[n-1-i] = base.Add(time.Duration(i)*time.Minute + time.Duration(i%7)*123457*time.Microsecond)
	}
	return out
}

// seedClientLoad ingests n records of kind, one per seedClientTimes time (record
// makes record i and its id, RFC 3339 time given), and returns their ids.
func seedClientLoad(t *testing.T, e *testserver.Env, kind string, n int, record func(i int, at string) (id, line string)) []string {
	t.Helper()
	var lines, ids []string
	for i, at := range seedClientTimes(n) {
		id, line := record(i, at.Format(time.RFC3339Nano))
		ids, lines = append(ids, id), append(lines, line)
	}
	mustIngest(t, e, kind, strings.Join(lines, "\n")+"\n")
	return ids
}

// TestSeedClient000 is a Document360 client: GET /v2/APIReferences/{id}/Logs with
// api_token, page by page with resultsPerPage until a page holds fewer rows than asked
// (the API has no paging metadata), modified_at parsed as the document shows it.
func TestSeedClient000(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const n = 107
	want := seedClientLoad(t, e, "api-reference", n, func(i int, at string) (string, string) {
		id := fmt.Sprintf("log-%03d", i)
		return id, fmt.Sprintf(`{"logs_id":%q,"api_reference_id":"petstore","user_id":"u1","user_name":"Peter Jone","title":"Import successful","modified_at":%q,"error_count":%d,"alerts_count":0}`,
			id, at, i%3)
	})
	for _, perPage := range []int{5, 100, 250} {
		t.Run(fmt.Sprint(perPage), func(t *testing.T) {
			var got []string
			var last time.Time
			for page := 1; ; page++ {
				body := seedClientGet(t, fmt.Sprintf("%s/v2/APIReferences/petstore/Logs?page=%d&resultsPerPage=%d", e.Srv.URL, page, perPage),
					"api_token", e.Tokens[model.RoleRead])
				var r struct {
					Data []struct {
						LogsID     string `json:"logs_id"`
						ModifiedAt string `json:"modified_at"`
					} `json:"data"`
					Success bool `json:"success"`
				}
				if err := json.Unmarshal(body, &r); err != nil || !r.Success {
					t.Fatalf("%v: %s", err, body)
				}
				for _, d := range r.Data {
					ts := seedClientTime(t, d.ModifiedAt)
					if !last.IsZero() && ts.After(last) {
						t.Fatalf("%s at %s after %s: not newest first", d.LogsID, ts, last)
					}
					last = ts
					got = append(got, d.LogsID)
				}
				if len(r.Data) < perPage {
					break
				}
			}
			seedClientAllOnce(t, got, want)
		})
	}
}

// TestSeedClient001 is an Elastic Path client: GET /integrations/{id}/logs with a
// bearer token, page[limit] and page[offset] until meta.current reaches meta.total
// (the page count); it reads each log's documented strings (body, error_detail) and
// its job id without a null check, as the document types them, and follows the job
// to /jobs/{job_uuid}/logs.
func TestSeedClient001(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const integration, n = "ff8634a8-a89e-4eac-baab-9b7b8c4f8720", 205
	want := seedClientLoad(t, e, "integration", n, func(i int, at string) (string, string) {
		id := fmt.Sprintf("ac8bb58e-2b9b-4ccf-9dd2-%012d", i)
		job, extra := "", `,"body":"Not Found","error_detail":"Received a status code outside of 2xx range"`
		if i%5 != 0 { // one in five deliveries has no job, and no body or error detail
			job = fmt.Sprintf(`,"job_id":"bb8634a8-a89e-4eac-baab-%012d"`, i/3)
		} else {
			extra = ""
		}
		return id, fmt.Sprintf(`{"id":%q,"integration_id":%q%s,"succeeded":false,"attempt":1,"status_code":404%s,"created_at":%q}`,
			id, integration, job, extra, at)
	})
	read := e.Tokens[model.RoleRead]
	type epLog struct {
		ID            string         `json:"id"`
		Body          any            `json:"body"`
		ErrorDetail   any            `json:"error_detail"`
		Relationships map[string]any `json:"relationships"`
	}
	var got []string
	jobs := map[string][]string{}
	for offset := 0; ; {
		body := seedClientGet(t, fmt.Sprintf("%s/integrations/%s/logs?page[limit]=100&page[offset]=%d", e.Srv.URL, integration, offset),
			"Authorization", "Bearer "+read)
		var r struct {
			Data []epLog `json:"data"`
			Meta struct {
				Limit, Offset, Current, Total int
			} `json:"meta"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		for _, l := range r.Data {
			_, bodyIsString := l.Body.(string)
			_, detailIsString := l.ErrorDetail.(string)
			job, _ := l.Relationships["job"].(map[string]any)
			data, _ := job["data"].(map[string]any)
			jobID, jobIsString := data["id"].(string)
			if !bodyIsString || !detailIsString || !jobIsString {
				t.Fatalf("log %s: a client reading body, error_detail and relationships.job.data.id as strings throws: %v %v %v",
					l.ID, l.Body, l.ErrorDetail, job)
			}
			got = append(got, l.ID)
			jobs[jobID] = append(jobs[jobID], l.ID)
		}
		if r.Meta.Current >= r.Meta.Total {
			break
		}
		offset += r.Meta.Limit
	}
	seedClientAllOnce(t, got, want)
	for job, ids := range jobs {
		body := seedClientGet(t, fmt.Sprintf("%s/integrations/%s/jobs/%s/logs", e.Srv.URL, integration, job), "Authorization", "Bearer "+read)
		var r struct{ Data []epLog }
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		var inJob []string
		for _, l := range r.Data {
			inJob = append(inJob, l.ID)
		}
		slices.Sort(inJob)
		slices.Sort(ids)
		if !slices.Equal(inJob, ids) {
			t.Errorf("job %s lists %v, the logs named it for %v", job, inJob, ids)
		}
	}
}

// TestSeedClient002 is a generic /logs client: limit and offset until
// pagination.nextOffset is null, timestamps parsed as the document's own error text
// names them, details read as the object that was sent (keys in order).
func TestSeedClient002(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const n = 120
	details := map[string]string{}
	want := seedClientLoad(t, e, "app", n, func(i int, at string) (string, string) {
		msg := fmt.Sprintf("Failed to authenticate user %d", i)
		d := fmt.Sprintf(`{"user_id":%d,"ip_address":"192.168.1.%d","attempt":{"n":%d,"at":"x"}}`, i, i%250, i%3)
		details[msg] = d
		return msg, fmt.Sprintf(`{"timestamp":%q,"level":"ERROR","service":"user-service","message":%q,"details":%s}`, at, msg, d)
	})
	var got []string
	for offset := 0; ; {
		body := seedClientGet(t, fmt.Sprintf("%s/logs?limit=50&offset=%d&level=ERROR&service=user-service", e.Srv.URL, offset),
			"X-API-Key", e.Tokens[model.RoleRead])
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Logs []struct {
					Timestamp string          `json:"timestamp"`
					Message   string          `json:"message"`
					Details   json.RawMessage `json:"details"`
				} `json:"logs"`
				Pagination struct {
					Total      int  `json:"total"`
					NextOffset *int `json:"nextOffset"`
				} `json:"pagination"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" || r.Data.Pagination.Total != n {
			t.Fatalf("%v: %s", err, body[:min(len(body), 300)])
		}
		for _, l := range r.Data.Logs {
			seedClientTime(t, l.Timestamp)
			if string(l.Details) != details[l.Message] {
				t.Errorf("%s: details %s, sent %s", l.Message, l.Details, details[l.Message])
			}
			got = append(got, l.Message)
		}
		if r.Data.Pagination.NextOffset == nil {
			break
		}
		offset = *r.Data.Pagination.NextOffset
	}
	seedClientAllOnce(t, got, want)
}

// TestSeedClient003 is a Workato API logs client: the JSON list by next_cursor to the
// end, and the CSV download read as a spreadsheet reads it (a UTF-8 byte order mark
// means UTF-8; the documented header; no cell that starts a formula).
func TestSeedClient003(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const n, client = 130, "Équipe Müller – 東京"
	want := seedClientLoad(t, e, "api-request", n, func(i int, at string) (string, string) {
		id := fmt.Sprintf("11111111-1111-4111-8111-%012d", i)
		return id, fmt.Sprintf(`{"id":%q,"received_at":%q,"code":401,"gateway_code":4011,"status_details":%q,"ip":"203.0.113.9","timing_ms":%d,"delay_ms":1,"collection":"Orders API","collection_type":"recipe","endpoint":"GET /orders","client":%q}`,
			id, at, "=HYPERLINK(\"http://evil.example\")", i, client)
	})
	read := e.Tokens[model.RoleRead]
	var got []string
	for cursor := ""; ; {
		body := seedClientGet(t, e.Srv.URL+"/api-logs?limit=50"+cursor, "Authorization", "Bearer "+read)
		var r struct {
			Data []struct {
				ID     string `json:"id"`
				Client string `json:"client"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		for _, d := range r.Data {
			if d.Client != client {
				t.Fatalf("client %q", d.Client)
			}
			got = append(got, d.ID)
		}
		if r.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *r.NextCursor
	}
	seedClientAllOnce(t, got, want)

	file := seedClientGet(t, e.Srv.URL+"/api-logs/export.csv", "Authorization", "Bearer "+read)
	text, hasBOM := bytes.CutPrefix(file, []byte("\xEF\xBB\xBF"))
	if !hasBOM {
		t.Fatal("no UTF-8 byte order mark: a spreadsheet reads the file in a legacy code page")
	}
	recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := "Date,Type,Code,Status,Gateway code,Status details,IP,Timing,Delay,API collection,Endpoint,Client,Job details"
	if len(recs) != n+1 || strings.Join(recs[0], ",") != header {
		t.Fatalf("%d records, header %q", len(recs), recs[0])
	}
	timings := map[int]bool{}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Fatalf("cell %q would run as a formula", cell)
			}
		}
		if rec[11] != client {
			t.Fatalf("Client %q", rec[11])
		}
		ms, err := strconv.Atoi(rec[7])
		if err != nil {
			t.Fatal(err)
		}
		timings[ms] = true
	}
	if len(timings) != n {
		t.Fatalf("%d distinct rows in the CSV, want %d", len(timings), n)
	}
}

// TestSeedClient004 is an Akinon (Django REST framework) client: the list with
// `Authorization: Token`, following the absolute `next` links until null, the ids in
// the documented descending order and count matching what was listed.
func TestSeedClient004(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	const n = 25
	want := seedClientLoad(t, e, "action", n, func(i int, at string) (string, string) {
		return strconv.Itoa(96 + i), fmt.Sprintf(`{"id":%d,"level":40,"logger_name":"logger_name_%d","message":"Test Log Message %d","app_name":"oms","trace":"t","created_at":%q}`,
			96+i, i, i, at)
	})
	var got []string
	prev := int64(1 << 62)
	next := e.Srv.URL + "/api/v1/oms/logs/action_log/"
	for next != "" {
		body := seedClientGet(t, next, "Authorization", "Token "+e.Tokens[model.RoleRead])
		var r struct {
			Count   int     `json:"count"`
			Next    *string `json:"next"`
			Results []struct {
				ID        int64  `json:"id"`
				CreatedAt string `json:"created_at"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Count != n {
			t.Fatalf("%v: %s", err, body)
		}
		for _, l := range r.Results {
			if l.ID >= prev {
				t.Fatalf("id %d after %d: not the documented descending order", l.ID, prev)
			}
			if _, err := time.Parse(time.RFC3339Nano, l.CreatedAt); err != nil {
				t.Fatalf("created_at %q: %v", l.CreatedAt, err)
			}
			prev = l.ID
			got = append(got, strconv.FormatInt(l.ID, 10))
		}
		next = ""
		if r.Next != nil {
			next = *r.Next
		}
	}
	seedClientAllOnce(t, got, want)
}
