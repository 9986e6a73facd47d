package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestServeIngestWindowFlags checks that --ingest-max-age and --ingest-max-future
// set the accepted time window of ingest, and that a window that is not positive is
// a usage error.
func TestServeIngestWindowFlags(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	for _, bad := range [][]string{{"serve", "--ingest-max-age", "0s"}, {"serve", "--ingest-max-future", "-1h"}} {
		if _, err := cli(t, u, bad...); err == nil {
			t.Fatalf("%v: no error", bad)
		} else if _, ok := err.(usageError); !ok {
			t.Fatalf("%v: %v is not a usage error", bad, err)
		}
	}
	tok := acmeIngestToken(t, u)
	base, _, _ := server(t, u, "--ingest-max-age", "240h", "--ingest-max-future", "1h")
	old := time.Now().UTC().AddDate(0, 0, -20).Format(time.RFC3339)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/ingest/app",
		strings.NewReader(fmt.Sprintf(`{"timestamp":%q,"level":"INFO","service":"s","message":"m"}`, old)))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Errors []struct{ Message string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != 400 || len(r.Errors) != 1 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	want := fmt.Sprintf(`field "timestamp": %s is more than 10 days in the past; times from 10 days ago to 1h0m0s ahead are accepted`, old)
	if r.Errors[0].Message != want {
		t.Fatalf("message %q\nwant %q", r.Errors[0].Message, want)
	}
}
