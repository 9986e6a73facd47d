package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loggraph/loggraph/internal/testserver"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type reply[T any] struct {
	Data   T          `json:"data"`
	Errors []gqlError `json:"errors"`
}

func onlyError(t *testing.T, errs []gqlError, code, msg string) gqlError {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("want one error, got %+v", errs)
	}
	if errs[0].Extensions["code"] != code || errs[0].Message != msg {
		t.Fatalf("got %v %q, want %s %q", errs[0].Extensions["code"], errs[0].Message, code, msg)
	}
	if errs[0].Extensions["requestId"] == "" || errs[0].Extensions["requestId"] == nil {
		t.Fatalf("no request id in %+v", errs[0])
	}
	return errs[0]
}

func TestViewer(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	type viewer struct {
		Viewer *struct {
			Workspace struct{ ID, Slug, Name string }
			Role      string
		}
	}
	for role, tok := range e.Tokens {
		var r reply[viewer]
		e.GraphQL(tok, `{ viewer { workspace { id slug name } role } }`, nil, &r)
		if len(r.Errors) > 0 || r.Data.Viewer == nil {
			t.Fatalf("%s: %+v", role, r.Errors)
		}
		if r.Data.Viewer.Workspace.Slug != "acme" || r.Data.Viewer.Workspace.ID != e.WS.String() ||
			r.Data.Viewer.Role != strings.ToUpper(string(role)) {
			t.Fatalf("%s: %+v", role, r.Data.Viewer)
		}
	}
	var anon reply[viewer]
	e.GraphQL("", `{ viewer { role } }`, nil, &anon)
	onlyError(t, anon.Errors, "UNAUTHENTICATED", "an API token is required: send `Authorization: Bearer <token>`")

	var bad reply[viewer]
	resp := e.GraphQL("lg_garbage", `{ viewer { role } }`, nil, &bad)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: status %d", resp.StatusCode)
	}
	onlyError(t, bad.Errors, "UNAUTHENTICATED", "invalid API token")

	// Introspection needs no token (the playground loads the schema first).
	var intro reply[struct {
		Schema struct{ QueryType struct{ Name string } } `json:"__schema"`
	}]
	e.GraphQL("", `{ __schema { queryType { name } } }`, nil, &intro)
	if intro.Data.Schema.QueryType.Name != "Query" {
		t.Fatalf("introspection: %+v", intro)
	}
}

func TestIngestMutations(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	cases := []struct {
		mutation, input, table string
		logs                   string
	}{
		{"ingestAppLogs", "AppLogInput", "app_logs",
			`[{id: "0190b4a0-0000-7000-8000-000000000001", timestamp: "2023-10-27T10:35:15Z", level: ERROR, service: "user-service", message: "Failed", details: {user_id: 12345}}]`},
		{"ingestApiRequestLogs", "ApiRequestLogInput", "api_request_logs",
			`[{receivedAt: "2024-06-13T14:30:00Z", code: 200, ip: "::1", timingMs: 12, delayMs: 0, collection: "Orders", collectionType: PROXY, endpoint: "GET /orders", client: "CS"}]`},
		{"ingestIntegrationLogs", "IntegrationLogInput", "integration_logs",
			`[{integrationId: "ff8634a8-a89e-4eac-baab-9b7b8c4f8720", integrationName: "hook", jobId: "0a8634a8-a89e-4eac-baab-9b7b8c4f8720", succeeded: true, attempt: 2, statusCode: 200}]`},
		{"ingestActionLogs", "ActionLogInput", "action_logs",
			`[{id: "105", level: 40, loggerName: "orders", message: "m", appName: "oms", createdAt: "2023-12-01T08:25:56.088353Z"}]`},
		{"ingestApiReferenceLogs", "ApiReferenceLogInput", "api_reference_logs",
			`[{logsId: "l-1", apiReferenceId: "petstore", userId: "u1", userName: "Peter", title: "Import failed", errorCount: 1, alertsCount: 0, errors: [{message: "bad", pointer: "/paths"}]}]`},
	}
	for _, c := range cases {
		t.Run(c.mutation, func(t *testing.T) {
			q := fmt.Sprintf(`mutation { %s(logs: %s) { accepted duplicates } }`, c.mutation, c.logs)
			var r reply[map[string]struct{ Accepted, Duplicates int }]
			e.GraphQL(e.Tokens[model.RoleIngest], q, nil, &r)
			if len(r.Errors) > 0 || r.Data[c.mutation].Accepted != 1 {
				t.Fatalf("%s: %+v %+v", c.mutation, r.Data, r.Errors)
			}
			if n := e.Count(c.table); n != 1 {
				t.Fatalf("%s: %d rows", c.table, n)
			}
			var forbidden reply[json.RawMessage]
			e.GraphQL(e.Tokens[model.RoleRead], q, nil, &forbidden)
			onlyError(t, forbidden.Errors, "FORBIDDEN", "this token's role (read) may not ingest logs")
		})
	}
	// The first three carry ids: a retry is a duplicate, not a second row.
	var again reply[map[string]struct{ Accepted, Duplicates int }]
	e.GraphQL(e.Tokens[model.RoleAdmin], fmt.Sprintf(`mutation { ingestAppLogs(logs: %s) { accepted duplicates } }`, cases[0].logs), nil, &again)
	if got := again.Data["ingestAppLogs"]; got.Accepted != 0 || got.Duplicates != 1 {
		t.Fatalf("retry: %+v", again)
	}
}

func TestIngestMutationRejections(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	var r reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleIngest], `mutation($logs: [ApiRequestLogInput!]!) { ingestApiRequestLogs(logs: $logs) { accepted } }`,
		map[string]any{"logs": []map[string]any{
			{"code": 200, "ip": "10.0.0.1", "timingMs": 1, "delayMs": 0, "collection": "c", "collectionType": "RECIPE", "endpoint": "e"},
			{"code": 700, "ip": "nope", "timingMs": -1, "delayMs": 0, "collection": "c", "collectionType": "RECIPE", "endpoint": "e"},
		}}, &r)
	got := onlyError(t, r.Errors, "BAD_USER_INPUT", "1 bad log(s); nothing was stored")
	lines, _ := json.Marshal(got.Extensions["invalidLogs"])
	want := `[{"index":1,"message":"field \"code\": 700 is out of range 100..599; field \"ip\": \"nope\" is not an IPv4 or IPv6 address; field \"timing_ms\": -1 is out of range 0..2147483647"}]`
	if string(lines) != want {
		t.Fatalf("invalidLogs\n got %s\nwant %s", lines, want)
	}
	var notInt reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleIngest], `mutation { ingestActionLogs(logs: [{id: "abc", level: 1, loggerName: "l", message: "m", appName: "a"}]) { accepted } }`, nil, &notInt)
	got = onlyError(t, notInt.Errors, "BAD_USER_INPUT", "1 bad log(s); nothing was stored")
	if lines, _ := json.Marshal(got.Extensions["invalidLogs"]); string(lines) != `[{"index":0,"message":"field \"id\": \"abc\" is not an integer"}]` {
		t.Fatalf("invalidLogs %s", lines)
	}

	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"level": "INFO", "service": "s", "message": "m"}
	}
	var tooMany reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleIngest], `mutation($logs: [AppLogInput!]!) { ingestAppLogs(logs: $logs) { accepted } }`,
		map[string]any{"logs": many}, &tooMany)
	onlyError(t, tooMany.Errors, "BAD_USER_INPUT", "1001 logs sent; a mutation takes at most 1000 (use POST /v1/ingest/app for bigger batches)")

	var badEnum reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleIngest], `mutation { ingestAppLogs(logs: [{level: TRACE, service: "s", message: "m"}]) { accepted } }`, nil, &badEnum)
	if len(badEnum.Errors) != 1 || !strings.Contains(badEnum.Errors[0].Message, "TRACE") {
		t.Fatalf("unknown level: %+v", badEnum.Errors)
	}
	if e.CountAll() != 0 {
		t.Fatal("a rejected mutation stored rows")
	}
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	type created struct {
		CreateAPIToken struct {
			Token    string
			APIToken struct{ ID, Role, Hint string } `json:"apiToken"`
		} `json:"createApiToken"`
	}
	var c reply[created]
	e.GraphQL(e.Tokens[model.RoleAdmin], `mutation { createApiToken(input: {name: "ci", role: READ}) { token apiToken { id role hint } } }`, nil, &c)
	if len(c.Errors) > 0 || !strings.HasPrefix(c.Data.CreateAPIToken.Token, "lg_") || c.Data.CreateAPIToken.APIToken.Role != "READ" {
		t.Fatalf("create: %+v", c)
	}
	newTok := c.Data.CreateAPIToken.Token
	var v reply[struct{ Viewer struct{ Role string } }]
	e.GraphQL(newTok, `{ viewer { role } }`, nil, &v)
	if v.Data.Viewer.Role != "READ" {
		t.Fatalf("new token: %+v", v)
	}
	var lastUsed *time.Time
	if err := e.DB.Pool.QueryRow(context.Background(), "SELECT last_used_at FROM api_tokens WHERE id = $1",
		c.Data.CreateAPIToken.APIToken.ID).Scan(&lastUsed); err != nil || lastUsed == nil {
		t.Fatalf("last_used_at not recorded: %v", err)
	}

	var forbidden reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleIngest], `mutation { createApiToken(input: {name: "x", role: ADMIN}) { token } }`, nil, &forbidden)
	onlyError(t, forbidden.Errors, "FORBIDDEN", "this token's role (ingest) may not manage tokens")

	var rv reply[struct {
		RevokeAPIToken struct{ RevokedAt *string } `json:"revokeApiToken"`
	}]
	e.GraphQL(e.Tokens[model.RoleAdmin], `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`,
		map[string]any{"id": c.Data.CreateAPIToken.APIToken.ID}, &rv)
	if len(rv.Errors) > 0 || rv.Data.RevokeAPIToken.RevokedAt == nil {
		t.Fatalf("revoke: %+v", rv)
	}
	var after reply[json.RawMessage]
	if resp := e.GraphQL(newTok, `{ viewer { role } }`, nil, &after); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token answered %d", resp.StatusCode)
	}
	onlyError(t, after.Errors, "UNAUTHENTICATED", "API token has been revoked")

	var missing reply[json.RawMessage]
	e.GraphQL(e.Tokens[model.RoleAdmin], `mutation { revokeApiToken(id: "not-a-token") { id } }`, nil, &missing)
	onlyError(t, missing.Errors, "NOT_FOUND", `no token with id "not-a-token" in this workspace`)

	var list reply[struct {
		APITokens []struct{ Name string } `json:"apiTokens"`
	}]
	e.GraphQL(e.Tokens[model.RoleAdmin], `{ apiTokens { name } }`, nil, &list)
	if len(list.Data.APITokens) != 4 {
		t.Fatalf("tokens: %+v", list)
	}
}

// TestSchemaIsDescribed: the playground documents everything, so every type, field,
// argument, input field and enum value of our schema has a description.
func TestSchemaIsDescribed(t *testing.T) {
	t.Parallel()
	e := testserver.New(t, rest.Limits{})
	type described struct {
		Name        string
		Description *string
	}
	var r reply[struct {
		Schema struct {
			Types []struct {
				described
				Fields []struct {
					described
					Args []described
				}
				InputFields []described
				EnumValues  []described
			}
		} `json:"__schema"`
	}]
	e.GraphQL("", `{ __schema { types { name description
		fields { name description args { name description } }
		inputFields { name description } enumValues { name description } } } }`, nil, &r)
	if len(r.Errors) > 0 || len(r.Data.Schema.Types) == 0 {
		t.Fatalf("%+v", r.Errors)
	}
	builtin := map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true}
	var missing []string
	has := func(d described) bool { return d.Description != nil && strings.TrimSpace(*d.Description) != "" }
	for _, ty := range r.Data.Schema.Types {
		if builtin[ty.Name] || strings.HasPrefix(ty.Name, "__") {
			continue
		}
		if !has(ty.described) {
			missing = append(missing, ty.Name)
		}
		for _, f := range ty.Fields {
			if !has(f.described) {
				missing = append(missing, ty.Name+"."+f.Name)
			}
			for _, a := range f.Args {
				if !has(a) {
					missing = append(missing, ty.Name+"."+f.Name+"("+a.Name+")")
				}
			}
		}
		for _, f := range ty.InputFields {
			if !has(f) {
				missing = append(missing, ty.Name+"."+f.Name)
			}
		}
		for _, v := range ty.EnumValues {
			if !has(v) {
				missing = append(missing, ty.Name+"."+v.Name)
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("no description: %v", missing)
	}
}
