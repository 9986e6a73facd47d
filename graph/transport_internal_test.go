package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestEncodeResponseIsTheJSONEncoding checks that encodeResponse writes the bytes
// encoding/json writes for wireResponse (HTML not escaped), for every shape of
// response the transports send.
func TestEncodeResponseIsTheJSONEncoding(t *testing.T) {
	yes := true
	stats := map[string]any{"stats": map[string]any{"durationMs": 1.5, "sqlStatements": 2}}
	for _, c := range []struct {
		name string
		resp graphql.Response
	}{
		{"data", graphql.Response{Data: json.RawMessage(`{"a":[1,2,{"b":"<x> & \u00e9"}]}`), Extensions: stats}},
		{"data null with errors", graphql.Response{Data: json.RawMessage(`null`), Errors: gqlerror.List{
			{Message: "found <EOF>", Path: ast.Path{ast.PathName("x"), ast.PathIndex(2)}, Extensions: map[string]any{"code": "BAD_USER_INPUT"}}}}},
		{"request error, no data", graphql.Response{Errors: gqlerror.List{{Message: "nope"}}, Extensions: stats}},
		{"deferred part", graphql.Response{Data: json.RawMessage(`{}`), Label: "l", Path: ast.Path{ast.PathName("y")}, HasNext: &yes}},
		{"empty", graphql.Response{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(wireResponse(c.resp)); err != nil {
				t.Fatal(err)
			}
			got, err := encodeResponse(&c.resp)
			if err != nil {
				t.Fatal(err)
			}
			if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
				t.Errorf("encodeResponse:\n%s\nencoding/json:\n%s", got, w)
			}
		})
	}
}
