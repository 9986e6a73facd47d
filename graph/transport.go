package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/loggraph/loggraph/model"
)

// Response media types of the GraphQL-over-HTTP spec.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// httpTransport serves GraphQL over HTTP (GET, POST, OPTIONS) per the
// GraphQL-over-HTTP spec. It replaces gqlgen's transport.GET and transport.POST,
// which answer 406 to a mutation over GET (the spec: 405 with Allow: POST), 422 to a
// request error with application/json (the spec: 200), 200 with `"data": null` to a
// refused operation with application/graphql-response+json (the spec: 4xx and no
// data entry), and a 200 to an oversize body (we answer 413). It uses the executor
// as they do, so extensions, the error presenter and the recover func all apply.
type httpTransport struct {
	maxBodyBytes int64
}

var _ graphql.Transport = httpTransport{}

// Supports takes every request that is not a websocket upgrade: methods other than
// GET, POST and OPTIONS get a 405 here rather than gqlgen's 400.
func (httpTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") == "" }

// allowedMethods is the Allow header of /graphql.
const allowedMethods = "GET, POST, OPTIONS"

// Do answers one request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", allowedMethods)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	mt, ok := responseMediaType(r.Header.Get("Accept"))
	if !ok {
		// The spec recommends 406 when no supported media type is acceptable.
		t.refuse(w, r, exec, mediaJSON, http.StatusNotAcceptable, nil,
			"the Accept header allows neither application/graphql-response+json nor application/json")
		return
	}
	var params *graphql.RawParams
	var status int
	var msg string
	switch r.Method {
	case http.MethodGet:
		params, status, msg = paramsFromQuery(r.URL.RawQuery)
	case http.MethodPost:
		params, status, msg = t.paramsFromBody(r)
	default:
		t.refuse(w, r, exec, mt, http.StatusMethodNotAllowed, http.Header{"Allow": {allowedMethods}},
			fmt.Sprintf("%s is not supported: send GraphQL requests with GET (queries) or POST", r.Method))
		return
	}
	if params == nil {
		t.refuse(w, r, exec, mt, status, nil, msg)
		return
	}
	params.Headers = r.Header
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// A request error: the request is well formed, the operation cannot run.
		status := http.StatusOK
		if mt == mediaGraphQLResponse && !persistedQueryNotFound(errs) {
			status = http.StatusBadRequest
		}
		writeResponse(w, mt, status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs))
		return
	}
	switch op := opCtx.Operation.Operation; {
	case op == ast.Subscription:
		// One HTTP response cannot carry a stream of events.
		t.refuse(w, r, exec, mt, http.StatusBadRequest, nil,
			"subscriptions are served over a websocket on /graphql (graphql-transport-ws or graphql-ws)")
		return
	case r.Method == http.MethodGet && op != ast.Query:
		// GET must be safe: the spec requires 405 for a mutation over GET.
		t.refuse(w, r, exec, mt, http.StatusMethodNotAllowed, http.Header{"Allow": {http.MethodPost}},
			fmt.Sprintf("a %s cannot be sent with GET: use POST", op))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		return // the client went away
	}
	status = http.StatusOK
	if s, retryAfter, ok := refusalStatus(resp); ok {
		// The whole operation was refused for capacity: say so in the status too.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeResponse(w, mt, s, resp)
		return
	}
	if mt == mediaGraphQLResponse && resp.Data == nil {
		// No data entry: the spec requires 4xx or 5xx with this media type.
		status = http.StatusBadRequest
		if hasCode(resp.Errors, CodeInternal) {
			status = http.StatusInternalServerError
		}
	}
	writeResponse(w, mt, status, resp)
}

// refuse answers a request that is not a well-formed GraphQL-over-HTTP request (or
// asks what this endpoint does not do), through the executor's error path so that
// the answer has a code, the request id and stats like every other.
func (httpTransport) refuse(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, mt string, status int, header http.Header, msg string) {
	for k, v := range header {
		w.Header()[k] = v
	}
	err := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": CodeBadUserInput}}
	// An operation context without an operation, as gqlgen makes for a request
	// refused before parsing, so that the stats time the request from its start.
	opCtx := &graphql.OperationContext{Stats: graphql.Stats{OperationStart: graphql.GetStartTime(r.Context())}}
	writeResponse(w, mt, status, exec.DispatchError(graphql.WithOperationContext(r.Context(), opCtx), gqlerror.List{err}))
}

// paramsFromBody reads a POST body: JSON, UTF-8, within the body limit. A nil result
// comes with the status and message of the refusal.
func (t httpTransport) paramsFromBody(r *http.Request) (*graphql.RawParams, int, string) {
	ct := r.Header.Get("Content-Type")
	media, mparams, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return nil, http.StatusUnsupportedMediaType, "a POST needs `Content-Type: application/json`"
	case err != nil || media != mediaJSON:
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: send application/json", ct)
	case mparams["charset"] != "" && !strings.EqualFold(mparams["charset"], "utf-8"):
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported charset %q: send UTF-8", mparams["charset"])
	}
	tooLarge := fmt.Sprintf("the request body is larger than %d bytes", t.maxBodyBytes)
	if r.ContentLength > t.maxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	// The handler's MaxBytesReader stops the read at the limit.
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	case err != nil:
		return nil, http.StatusBadRequest, "the request body could not be read"
	case len(bytes.TrimSpace(body)) == 0:
		return nil, http.StatusBadRequest, "the request body is empty: send {\"query\": \"...\"}"
	}
	if off, esc, found := model.LoneSurrogate(body); found {
		// Go's decoder would store U+FFFD in its place without a word; the ingest
		// route refuses it, and so does this one.
		return nil, http.StatusBadRequest, fmt.Sprintf("the request body has a lone UTF-16 surrogate escape %s at byte %d, which is not valid Unicode", esc, off)
	}
	params := &graphql.RawParams{}
	if err := decodeJSON(body, params); err != nil {
		return nil, http.StatusBadRequest, "the request body is not a GraphQL request: " + err.Error()
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return nil, http.StatusBadRequest, "the request has no query"
	}
	if status, msg := loneSurrogateInQuery(params.Query); status != 0 {
		return nil, status, msg
	}
	params.ReadTime = graphql.TraceTiming{Start: graphql.GetStartTime(r.Context()), End: graphql.Now()}
	return params, 0, ""
}

// paramsFromQuery reads a GET's query string (query, operationName, and variables
// and extensions as JSON).
func paramsFromQuery(raw string) (*graphql.RawParams, int, string) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, http.StatusBadRequest, "the query string could not be parsed: " + err.Error()
	}
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	for _, p := range []struct {
		name string
		into *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if v := q.Get(p.name); v != "" {
			if _, esc, found := model.LoneSurrogate([]byte(v)); found {
				return nil, http.StatusBadRequest, fmt.Sprintf("the %s parameter has a lone UTF-16 surrogate escape %s, which is not valid Unicode", p.name, esc)
			}
			if err := decodeJSON([]byte(v), p.into); err != nil {
				return nil, http.StatusBadRequest, fmt.Sprintf("the %s parameter is not a JSON object: %v", p.name, err)
			}
		}
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return nil, http.StatusBadRequest, "the request has no query parameter"
	}
	if status, msg := loneSurrogateInQuery(params.Query); status != 0 {
		return nil, status, msg
	}
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	return params, 0, ""
}

// loneSurrogateInQuery refuses a query text whose string literals hold a lone UTF-16
// surrogate escape: the GraphQL lexer, like Go's JSON decoder, would replace it with
// U+FFFD without a word.
func loneSurrogateInQuery(query string) (int, string) {
	if off, esc, found := model.LoneSurrogate([]byte(query)); found {
		return http.StatusBadRequest, fmt.Sprintf("the query has a lone UTF-16 surrogate escape %s at byte %d, which is not valid Unicode", esc, off)
	}
	return 0, ""
}

// decodeJSON decodes exactly one JSON value, keeping numbers as json.Number (as
// gqlgen does, so that big integers survive until variable coercion).
func decodeJSON(b []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			want := "an object"
			if te.Type.Kind() == reflect.String {
				want = "a string"
			}
			return fmt.Errorf("%q must be %s, not %s", te.Field, want, te.Value)
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// responseMediaType picks the response media type from an Accept header, honouring
// q-values: application/graphql-response+json when it is preferred, application/json
// for application/json, application/* and */*, and application/json when there is no
// Accept header (as the spec says). false: nothing acceptable.
func responseMediaType(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ, bestRank := "", 0.0, 0
	for part := range strings.SplitSeq(accept, ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var mt string
		var rank int // on equal q, an exact type beats a wildcard, graphql-response+json beats json
		switch media {
		case mediaGraphQLResponse:
			mt, rank = mediaGraphQLResponse, 3
		case mediaJSON:
			mt, rank = mediaJSON, 2
		case "application/*", "*/*":
			mt, rank = mediaJSON, 1
		default:
			continue
		}
		if q > 0 && (q > bestQ || q == bestQ && rank > bestRank) {
			best, bestQ, bestRank = mt, q, rank
		}
	}
	return best, best != ""
}

// wireResponse is graphql.Response without a data entry when there is no data:
// the spec distinguishes "no data" (a request error) from `"data": null`.
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Label      string          `json:"label,omitempty"`
	Path       ast.Path        `json:"path,omitempty"`
	HasNext    *bool           `json:"hasNext,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

func writeResponse(w http.ResponseWriter, mt string, status int, resp *graphql.Response) {
	body, err := encodeResponse(resp)
	if err != nil {
		// Only a resolver's value can fail to marshal; the handler's recover answers it.
		panic(fmt.Errorf("marshal GraphQL response: %w", err))
	}
	w.Header().Set("Content-Type", mt+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// encodeResponse is json.Marshal of wireResponse(*resp) without HTML escaping ("found
// <EOF>" stays readable rather than \u003cEOF\u003e), except that data, which the
// executor wrote as compact JSON, is copied as it is: encoding/json would scan the
// whole of it again to validate and compact it (6 % of a page's CPU).
func encodeResponse(resp *graphql.Response) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	field := func(name string, v any) error {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + name + `":`)
		if raw, ok := v.(json.RawMessage); ok {
			buf.Write(raw)
			return nil
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		return nil
	}
	var err error
	add := func(name string, v any, present bool) {
		if present && err == nil {
			err = field(name, v)
		}
	}
	add("errors", resp.Errors, len(resp.Errors) > 0)
	add("data", resp.Data, len(resp.Data) > 0)
	add("label", resp.Label, resp.Label != "")
	add("path", resp.Path, len(resp.Path) > 0)
	add("hasNext", resp.HasNext, resp.HasNext != nil)
	add("extensions", resp.Extensions, len(resp.Extensions) > 0)
	buf.WriteByte('}')
	return buf.Bytes(), err
}

func persistedQueryNotFound(errs gqlerror.List) bool {
	// Apollo's APQ protocol: clients answer PERSISTED_QUERY_NOT_FOUND by resending the
	// query, and expect it with 200 (as Apollo Server sends it), whatever the media type.
	return len(errs) == 1 && errs[0].Extensions["code"] == "PERSISTED_QUERY_NOT_FOUND"
}

func hasCode(errs gqlerror.List, code string) bool {
	for _, e := range errs {
		if e.Extensions["code"] == code {
			return true
		}
	}
	return false
}
