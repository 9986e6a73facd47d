package rest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

const nulEsc = "a%00b"

func nulMessage(field string) string {
	return field + `: contains a NUL character (\u0000), which is not allowed`
}

// jsonText is how the surfaces' JSON encoders write a message (no HTML escaping;
// the backslash of \u0000 escaped).
func jsonText(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }

// inputCase is one request with a bad value and the exact body it must get.
type inputCase struct {
	name, path string
	status     int
	body       string
}

func runInputCases(t *testing.T, e *testserver.Env, headers []string, cases []inputCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.Do(http.MethodGet, c.path, nil, headers...)
			// A /v1 body ends with the request id: compared up to it.
			match := body == c.body || strings.HasSuffix(c.body, `"request_id":"`) && strings.HasPrefix(body, c.body)
			if resp.StatusCode != c.status || !match {
				t.Fatalf("GET %s:\n got %d %s\nwant %d %s", c.path, resp.StatusCode, body, c.status, c.body)
			}
			for _, sql := range []string{"SELECT", "WHERE", "SQLSTATE", "invalid byte sequence"} {
				if strings.Contains(body, sql) {
					t.Fatalf("SQL in the response: %s", body)
				}
			}
		})
	}
}

func v1Body(code, msg string) string {
	return `{"error":"` + jsonText(msg) + `","code":"` + code + `","request_id":"`
}

// TestReadInputNULAndRanges: a NUL in each text parameter a read surface accepts
// (query values and path ids), and times outside the years PostgreSQL stores, are
// the surface's own 400 with the field named, never a 500, never SQL. Parameters
// whose documented answer to an unknown value is a 404 (Elastic Path's and Akinon's
// path ids, Akinon's page) keep it.
func TestReadInputNULAndRanges(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	read := e.Tokens[model.RoleRead]

	t.Run("exports", func(t *testing.T) {
		var cases []inputCase
		for _, p := range []struct{ kind, param string }{
			{"app", "services"}, {"app", "search"},
			{"api-request", "clients"}, {"api-request", "collections"}, {"api-request", "endpoints"},
			{"api-request", "ips"}, {"api-request", "codeClasses"}, {"api-request", "search"},
			{"integration", "integrationIds"}, {"integration", "jobIds"}, {"integration", "search"},
			{"action", "appNames"}, {"action", "loggerNames"}, {"action", "search"},
			{"api-reference", "apiReferenceIds"}, {"api-reference", "userIds"}, {"api-reference", "search"},
		} {
			t.Run(p.kind+" "+p.param, func(t *testing.T) {
				field := p.param
				if p.param != "search" {
					field += "[0]"
				}
				cases = append(cases, inputCase{p.kind + " " + p.param, "/v1/export/" + p.kind + ".ndjson?" + p.param + "=" + nulEsc,
					http.StatusBadRequest, v1Body("invalid_parameter", nulMessage(field))})
			})
		}
		cases = append(cases,
			inputCase{"app details", "/v1/export/app.csv?details=" + url.QueryEscape(`{"k":"a\u0000b"}`),
				http.StatusBadRequest, v1Body("invalid_parameter", nulMessage("details.k"))},
			inputCase{"invalid UTF-8", "/v1/export/app.csv?search=a%FFb",
				http.StatusBadRequest, v1Body("invalid_parameter", "search: is not valid UTF-8")},
			inputCase{"too long", "/v1/export/app.csv?search=" + strings.Repeat("x", model.MaxFilterTextBytes+1),
				http.StatusBadRequest, v1Body("invalid_parameter", "search: is longer than 4096 bytes")},
			inputCase{"time from year 0", "/v1/export/app.csv?time.from=0000-01-01T00:00:00Z",
				http.StatusBadRequest, v1Body("invalid_parameter", "time.from: 0000-01-01T00:00:00Z is outside the years 0001 to 9999")},
		)
		runInputCases(t, e, []string{"Authorization", "Bearer " + read}, cases)
	})

	t.Run("api-logs", func(t *testing.T) {
		cursor := model.Cursor{Scope: string(model.KindAPIRequest), Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), ID: "0190a000-0000-7000-8000-000000000000"}.Encode()
		var cases []inputCase
		for _, route := range []string{"/api-logs", "/api-logs/export.csv"} {
			for _, p := range []struct{ param, field string }{{"client", "clients[0]"}, {"collection", "collections[0]"}} {
				t.Run(p.param, func(t *testing.T) {
					cases = append(cases, inputCase{route + " " + p.param, route + "?" + p.param + "=" + nulEsc,
						http.StatusBadRequest, v1Body("invalid_parameter", nulMessage(p.field))})
				})
			}
		}
		cases = append(cases, inputCase{"cursor of year 0", "/api-logs?cursor=" + cursor,
			http.StatusBadRequest, v1Body("invalid_parameter", "cursor: not a valid cursor")})
		runInputCases(t, e, []string{"Authorization", "Bearer " + read}, cases)
	})

	t.Run("document360", func(t *testing.T) {
		d360 := func(msg string) string {
			return `{"extension_data":null,"success":false,"errors":[{"extension_data":null,"stack_trace":null,"description":"` +
				jsonText(msg) + `","error_code":null,"custom_data":null}],"warnings":[],"information":[]}`
		}
		runInputCases(t, e, []string{"api_token", read}, []inputCase{
			{"reference id", "/v2/APIReferences/" + nulEsc + "/Logs", http.StatusBadRequest, d360(nulMessage("apiReferenceId"))},
			{"reference id of a log", "/v2/APIReferences/" + nulEsc + "/Logs/x", http.StatusBadRequest, d360(nulMessage("apiReferenceId"))},
			{"log id", "/v2/APIReferences/petstore/Logs/" + nulEsc, http.StatusBadRequest, d360(nulMessage("logId"))},
		})
	})

	t.Run("elastic path", func(t *testing.T) {
		runInputCases(t, e, []string{"Authorization", "Bearer " + read}, []inputCase{
			{"integration id", "/v2/integrations/" + nulEsc + "/logs", http.StatusNotFound, `{"errors":[{"title":"Not Found","status":404,"detail":"The resource could not be found"}]}`},
			{"job id", "/v2/integrations/0190a000-0000-7000-8000-000000000000/jobs/" + nulEsc + "/logs", http.StatusNotFound, `{"errors":[{"title":"Not Found","status":404,"detail":"The resource could not be found"}]}`},
			{"page limit", "/v2/integrations/logs?page[limit]=" + nulEsc, http.StatusBadRequest, `{"errors":[{"title":"Validation Error","status":400,"detail":"page[limit] must be a positive integer"}]}`},
		})
	})

	t.Run("akinon", func(t *testing.T) {
		runInputCases(t, e, []string{"Authorization", "Token " + read}, []inputCase{
			{"id", "/api/v1/oms/logs/action_log/" + nulEsc + "/", http.StatusNotFound, `{"detail":"Not found."}`},
			{"page", "/api/v1/oms/logs/action_log/?page=" + nulEsc, http.StatusNotFound, `{"detail":"Invalid page."}`},
		})
	})

	t.Run("generic logs", func(t *testing.T) {
		runInputCases(t, e, []string{"X-API-Key", read}, []inputCase{
			{"startDate", "/logs?startDate=" + nulEsc, http.StatusBadRequest, `{"status":"error","message":"Invalid date format for 'startDate'. Please use ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ)."}`},
			{"startDate year 0", "/logs?startDate=0000-01-01T00:00:00Z", http.StatusBadRequest,
				`{"status":"error","message":"time.from: 0000-01-01T00:00:00Z is outside the years 0001 to 9999"}`},
		})
	})
}
