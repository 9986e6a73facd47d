package graph_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const nulText = "a\x00b"

func nulMsg(field string) string {
	return field + `: contains a NUL character (\u0000), which is not allowed`
}

// TestReadInputIsBadUserInput: a NUL in any filter string, id or name, a details
// filter that is not an object, a cursor or time range outside the years
// PostgreSQL stores: each is BAD_USER_INPUT naming the field, never an internal
// error, and no SQL reaches the response.
func TestReadInputIsBadUserInput(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	year0 := model.Cursor{Scope: string(model.KindApp), Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), ID: "0190a000-0000-7000-8000-000000000000"}.Encode()
	year10000 := model.Cursor{Scope: string(model.KindApp), Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ID: "0190a000-0000-7000-8000-000000000000"}.Encode()
	s := map[string]any{"s": nulText}
	cases := []struct {
		name, query string
		vars        map[string]any
		msg         string
	}{
		{"logs search", `query($s:String){ logs(filter:{search:$s}){ nodes{id} } }`, s, nulMsg("search")},
		{"logs sources", `query($s:String!){ logs(filter:{sources:["ok", $s]}){ nodes{id} } }`, s, nulMsg("sources[1]")},
		{"logs totalCount", `query($s:String!){ logs(filter:{sources:[$s]}){ totalCount } }`, s, nulMsg("sources[0]")},
		{"appLogs search", `query($s:String){ appLogs(filter:{search:$s}){ nodes{id} } }`, s, nulMsg("search")},
		{"appLogs services", `query($s:String!){ appLogs(filter:{services:[$s]}){ totalCount } }`, s, nulMsg("services[0]")},
		{"appLogs details value", `query($d:JSON){ appLogs(filter:{details:$d}){ nodes{id} } }`, map[string]any{"d": map[string]any{"user": map[string]any{"name": nulText}}}, nulMsg("details.user.name")},
		{"appLogs details key", `query($d:JSON){ appLogs(filter:{details:$d}){ nodes{id} } }`, map[string]any{"d": map[string]any{nulText: 1}}, nulMsg("details key")},
		{"appLogs details string literal", `{ appLogs(filter:{details:"x"}){ nodes{id} } }`, nil, `details: must be a JSON object (e.g. {"user_id": 12345}), not a string`},
		{"appLogs details string variable", `query($d:JSON){ appLogs(filter:{details:$d}){ nodes{id} } }`, map[string]any{"d": "x"}, `details: must be a JSON object (e.g. {"user_id": 12345}), not a string`},
		{"appLogs details array", `query($d:JSON){ appLogs(filter:{details:$d}){ nodes{id} } }`, map[string]any{"d": []any{1}}, `details: must be a JSON object (e.g. {"user_id": 12345}), not an array`},
		{"apiRequestLogs endpoints", `query($s:String!){ apiRequestLogs(filter:{endpoints:[$s]}){ nodes{id} } }`, s, nulMsg("endpoints[0]")},
		{"apiRequestLogs clients", `query($s:String!){ apiRequestLogs(filter:{clients:[$s]}){ nodes{id} } }`, s, nulMsg("clients[0]")},
		{"apiRequestLogs collections", `query($s:String!){ apiRequestLogs(filter:{collections:[$s]}){ nodes{id} } }`, s, nulMsg("collections[0]")},
		{"apiRequestLogs ips", `query($s:String!){ apiRequestLogs(filter:{ips:[$s]}){ nodes{id} } }`, s, nulMsg("ips[0]")},
		{"apiRequestLogs codeClasses", `query($s:String!){ apiRequestLogs(filter:{codeClasses:[$s]}){ nodes{id} } }`, s, nulMsg("codeClasses[0]")},
		{"apiRequestLogs search", `query($s:String){ apiRequestLogs(filter:{search:$s}){ nodes{id} } }`, s, nulMsg("search")},
		{"integrationLogs integrationIds", `query($s:ID!){ integrationLogs(filter:{integrationIds:[$s]}){ nodes{id} } }`, s, nulMsg("integrationIds[0]")},
		{"integrationLogs jobIds", `query($s:ID!){ integrationLogs(filter:{jobIds:[$s]}){ nodes{id} } }`, s, nulMsg("jobIds[0]")},
		{"integrationLogs search", `query($s:String){ integrationLogs(filter:{search:$s}){ nodes{id} } }`, s, nulMsg("search")},
		{"actionLogs appNames", `query($s:String!){ actionLogs(filter:{appNames:[$s]}){ nodes{id} } }`, s, nulMsg("appNames[0]")},
		{"actionLogs loggerNames", `query($s:String!){ actionLogs(filter:{loggerNames:[$s]}){ totalCount } }`, s, nulMsg("loggerNames[0]")},
		{"actionLogs search", `query($s:String){ actionLogs(filter:{search:$s}){ nodes{id} } }`, s, nulMsg("search")},
		{"apiReferenceLogs apiReferenceIds", `query($s:ID!){ apiReferenceLogs(filter:{apiReferenceIds:[$s]}){ nodes{id} } }`, s, nulMsg("apiReferenceIds[0]")},
		{"apiReferenceLogs userIds", `query($s:ID!){ apiReferenceLogs(filter:{userIds:[$s]}){ nodes{id} } }`, s, nulMsg("userIds[0]")},
		{"apiReferenceLogs search", `query($s:String){ apiReferenceLogs(filter:{search:$s}){ nodes{id} } }`, s, nulMsg("search")},
		{"log api reference id", `query($s:ID!){ log(kind: API_REFERENCE, id:$s){ id } }`, s, nulMsg("id")},
		{"log app id", `query($s:ID!){ log(kind: APP, id:$s){ id } }`, s, nulMsg("id")},
		{"integration id", `query($s:ID!){ integration(id:$s){ id } }`, s, nulMsg("id")},
		{"apiReference id", `query($s:ID!){ apiReference(id:$s){ id } }`, s, nulMsg("id")},
		{"logContext id", `query($s:ID!){ logContext(kind: API_REFERENCE, id:$s){ __typename } }`, s, nulMsg("id")},
		{"logHistogram search", `query($s:String){ logHistogram(filter:{search:$s}){ interval } }`, s, nulMsg("search")},
		{"logFacets sources", `query($s:String!){ logFacets(filter:{sources:[$s]}, fields:[SOURCE]){ field } }`, s, nulMsg("sources[0]")},
		{"logPatterns search", `query($s:String){ logPatterns(filter:{search:$s}){ count } }`, s, nulMsg("search")},
		{"apiRequestStats clients", `query($s:String!){ apiRequestStats(filter:{clients:[$s]}){ rows{count} } }`, s, nulMsg("clients[0]")},
		{"integrationStats search", `query($s:String){ integrationStats(filter:{search:$s}){ rows{deliveries} } }`, s, nulMsg("search")},
		{"cursor of year 0", `query($c:String){ appLogs(after:$c){ nodes{id} } }`, map[string]any{"c": year0}, "after: not a valid cursor"},
		{"cursor of year 10000", `query($c:String){ appLogs(before:$c){ nodes{id} } }`, map[string]any{"c": year10000}, "before: not a valid cursor"},
		{"time from year 0", `{ appLogs(filter:{time:{from:"0000-01-01T00:00:00Z"}}){ nodes{id} } }`, nil, "time.from: 0000-01-01T00:00:00Z is outside the years 0001 to 9999"},
		{"createApiToken name", `mutation($s:String!){ createApiToken(input:{name:$s, role: READ}){ token } }`, s, nulMsg("name")},
	}
	tokensBefore := e.Count("api_tokens")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
			if err != nil {
				t.Fatal(err)
			}
			resp, reply := post(e, string(body), "Authorization", "Bearer "+e.Tokens[model.RoleAdmin])
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, reply)
			}
			onlyError(t, decodeWire(t, reply).Errors, "BAD_USER_INPUT", c.msg)
			for _, sql := range []string{"SELECT", "WHERE", "SQLSTATE", "pq:", "invalid byte sequence"} {
				if strings.Contains(reply, sql) {
					t.Fatalf("SQL in the response: %s", reply)
				}
			}
		})
	}
	if n := e.Count("api_tokens"); n != tokensBefore {
		t.Fatalf("tokens %d, want %d: a refused createApiToken stored one", n, tokensBefore)
	}
}
