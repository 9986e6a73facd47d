package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/loggraph/loggraph/model"
)

// The ClickHouse side of `bench analytics` (--clickhouse-url): the seeded workspace
// loaded into ClickHouse through the NDJSON export route, one MergeTree table per
// kind ordered by (workspace, time), and the analytics questions asked in
// ClickHouse SQL over its HTTP interface. Written for Debian's clickhouse-server
// 18.16 (bench/clickhouse/start.sh): no DateTime64, no query parameters, no
// input defaults for omitted fields.

// clickHouse talks to one server's HTTP interface.
type clickHouse struct {
	url    string // e.g. http://127.0.0.1:8123
	db     string // the database of the workspace's tables
	client *http.Client
}

// do runs one statement (body, when not nil, is the data of an INSERT) and returns
// the reply.
func (c *clickHouse) do(ctx context.Context, query string, body io.Reader) ([]byte, error) {
	var req *http.Request
	var err error
	if body == nil {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", strings.NewReader(query))
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/?query="+url.QueryEscape(query), body)
	}
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("clickhouse: %d %s", resp.StatusCode, bytes.TrimSpace(reply))
	}
	return reply, err
}

// rows runs a SELECT and returns its rows as raw JSON values (FORMAT JSONCompact).
func (c *clickHouse) rows(ctx context.Context, query string) ([][]json.RawMessage, error) {
	reply, err := c.do(ctx, query+" FORMAT JSONCompact", nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Data [][]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(reply, &out); err != nil {
		return nil, fmt.Errorf("clickhouse reply: %w", err)
	}
	return out.Data, nil
}

// chString reads a JSONCompact value as text: a string unquoted, a number as
// written (ClickHouse quotes 64-bit integers), null as "".
func chString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// chFloat reads a JSONCompact number, quoted or not.
func chFloat(raw json.RawMessage) (float64, error) {
	return strconv.ParseFloat(chString(raw), 64)
}

// chTable is one kind's table: its columns (the export's fields, a workspace, and
// the common severity computed by ClickHouse from the kind's own columns with the
// rule loggraph stores), and the SQL of the common source and message.
type chTable struct {
	columns         string
	source, message string
}

// severityNamesSQL maps a severity number to its name.
const severityNamesSQL = "transform(sev, [1, 2, 3, 4, 5], ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'], '')"

var chTables = map[model.LogKind]chTable{
	model.KindApp: {
		columns: `id UUID, timestamp DateTime, level Enum8('DEBUG' = 1, 'INFO' = 2, 'WARN' = 3, 'ERROR' = 4, 'FATAL' = 5),
			service String, message String, details Nullable(String), trace_id Nullable(String), span_id Nullable(String),
			severity UInt8 MATERIALIZED CAST(level AS UInt8)`,
		source: "service", message: "message",
	},
	model.KindAPIRequest: {
		columns: `id UUID, received_at DateTime, code UInt16, gateway_code Nullable(Int32), status_details Nullable(String),
			ip Nullable(String), timing_ms UInt32, delay_ms UInt32, collection String, collection_type String, endpoint String,
			client Nullable(String), job_url Nullable(String), trace_id Nullable(String), span_id Nullable(String),
			severity UInt8 MATERIALIZED multiIf(code >= 500, 4, code >= 400, 3, 2)`,
		source: "collection", message: "concat(toString(code), ' ', " + statusTextSQL() + ", ' ', endpoint)",
	},
	model.KindIntegration: {
		columns: `id UUID, integration_id UUID, integration_name Nullable(String), job_id Nullable(String), succeeded UInt8,
			attempt Int32, body Nullable(String), status_code Nullable(Int32), error_detail Nullable(String), created_at DateTime,
			severity UInt8 MATERIALIZED if(succeeded, 2, 4)`,
		source: "integration_name", message: "ifNull(error_detail, ifNull(body, ''))",
	},
	model.KindAction: {
		columns: `id Int64, level Int32, logger_name String, message String, app_name Nullable(String), trace Nullable(String),
			created_at DateTime, severity UInt8 MATERIALIZED multiIf(level < 20, 1, level < 30, 2, level < 40, 3, level < 50, 4, 5)`,
		source: "logger_name", message: "message",
	},
	model.KindAPIReference: {
		columns: `logs_id String, api_reference_id String, api_reference_name Nullable(String), user_id Nullable(String),
			user_name Nullable(String), title String, modified_at DateTime, error_count Int32, alerts_count Int32,
			errors String, alerts String, severity UInt8 MATERIALIZED multiIf(error_count > 0, 4, alerts_count > 0, 3, 2)`,
		source: "api_reference_name", message: "title",
	},
}

// statusTextSQL is the HTTP reason phrase of column code (” for none), as the
// API request message has it (model.StatusText).
func statusTextSQL() string {
	var codes, texts []string
	for c := 100; c < 600; c++ {
		if t := model.StatusText(c); t != "" {
			codes = append(codes, strconv.Itoa(c))
			texts = append(texts, chQuote(t))
		}
	}
	return "transform(code, [" + strings.Join(codes, ", ") + "], [" + strings.Join(texts, ", ") + "], '')"
}

// chQuote is s as a ClickHouse string literal.
func chQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// chPatternSQL is the ClickHouse expression of model.MessagePattern over the text
// expression msg: replaceRegexpAll per rule and pass, in order. The guards are left
// out: they only skip messages a rule cannot change (model.PatternRule.Guard).
// ClickHouse's RE2 takes the leftmost-first match where Go and PostgreSQL take the
// leftmost-longest one, so a rule whose alternatives match different lengths at
// the same place could mask differently; the bench compares the answers.
func chPatternSQL(msg string) string {
	expr := msg
	for _, r := range model.PatternRules {
		repl := r.Tag
		if r.Bounded {
			repl = `\1` + r.Tag + `\2`
		}
		for range r.Passes() {
			expr = "replaceRegexpAll(" + expr + ", " + chQuote(r.Expr()) + ", " + chQuote(repl) + ")"
		}
	}
	return expr
}

// chWindow is a question's window in whole seconds: the tables keep seconds
// (18.16 has no DateTime64), floored, which selects the same rows as loggraph's
// microseconds for bounds on whole seconds.
type chWindow struct{ from, to time.Time }

// union is every kind's rows of the workspace in the window, as cols(kind, time
// column, table) of each, UNION ALL.
func (c *clickHouse) union(ws string, w chWindow, kinds []model.LogKind, cols func(k model.LogKind, ts string, t chTable) string) string {
	var parts []string
	for _, k := range kinds {
		ts := k.TimeColumn()
		parts = append(parts, fmt.Sprintf("SELECT %s FROM %s.%s WHERE workspace = %s AND %s >= toDateTime(%d) AND %s < toDateTime(%d)",
			cols(k, ts, chTables[k]), c.db, k.Table(), chQuote(ws), ts, w.from.Unix(), ts, w.to.Unix()))
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ")"
}

// The questions, in ClickHouse SQL.

// chHistogram counts the logs per bucket and severity: bucket is the SQL of the
// bucket over column t.
func (c *clickHouse) chHistogram(ws string, w chWindow, bucket string) string {
	u := c.union(ws, w, model.AllKinds, func(_ model.LogKind, ts string, _ chTable) string {
		return ts + " AS t, severity AS sev"
	})
	return "SELECT " + bucket + " AS b, sev, count() AS n FROM " + u + " GROUP BY b, sev ORDER BY b, sev"
}

// chFacets answers logFacets' SOURCE, SEVERITY and KIND: the top 10 values of each,
// by count then value (byte order). Null sources (an integration or API reference
// without a name) count in none.
func (c *clickHouse) chFacets(ws string, w chWindow) string {
	u := c.union(ws, w, model.AllKinds, func(k model.LogKind, _ string, t chTable) string {
		return fmt.Sprintf("%s AS kind, severity AS sev, %s AS src", chQuote(string(k)), t.source)
	})
	return `SELECT f.1 AS field, f.2 AS value, sum(n) AS n FROM (SELECT kind, sev, src, count() AS n FROM ` + u +
		` GROUP BY kind, sev, src) ARRAY JOIN arrayFilter(x -> x.2 != '', [('SOURCE', ifNull(src, '')), ('SEVERITY', ` +
		severityNamesSQL + `), ('KIND', kind)]) AS f GROUP BY field, value ORDER BY field, n DESC, value LIMIT 10 BY field`
}

// chStats is apiRequestStats by endpoint: count, errors (code >= 400) and the
// timing's p50, p95, p99. exact: interpolated between the two nearest ranks of the
// sorted timings (PostgreSQL's percentile_cont); else ClickHouse's quantiles
// (reservoir sampling of 8,192 values per group: approximate past that).
func (c *clickHouse) chStats(ws string, w chWindow, exact bool) string {
	where := fmt.Sprintf("workspace = %s AND received_at >= toDateTime(%d) AND received_at < toDateTime(%d)", chQuote(ws), w.from.Unix(), w.to.Unix())
	table := c.db + "." + model.KindAPIRequest.Table()
	if !exact {
		return "SELECT endpoint, count() AS n, countIf(code >= 400) AS errors, quantiles(0.5, 0.95, 0.99)(timing_ms) AS q FROM " +
			table + " WHERE " + where + " GROUP BY endpoint ORDER BY q[2] DESC, endpoint"
	}
	// Lambdas of 18.16 cannot capture two columns (s and n): one expression per level.
	var qs []string
	for _, p := range []string{"0.5", "0.95", "0.99"} {
		pos := "(n - 1) * " + p
		at := func(round string) string { return "toFloat64(s[toUInt64(" + round + "(" + pos + ")) + 1])" }
		qs = append(qs, at("floor")+" + ("+pos+" - floor("+pos+")) * ("+at("ceil")+" - "+at("floor")+")")
	}
	return "SELECT endpoint, n, errors, [" + strings.Join(qs, ", ") + "] AS q FROM (SELECT endpoint, count() AS n, countIf(code >= 400) AS errors, arraySort(groupArray(timing_ms)) AS s FROM " +
		table + " WHERE " + where + " GROUP BY endpoint) ORDER BY q[2] DESC, endpoint"
}

// chPatterns is logPatterns: the first most frequent templates, then by template
// (byte order), each with its dominant severity (most logs, the more severe on a
// tie). Messages are grouped before masking, as loggraph does.
func (c *clickHouse) chPatterns(ws string, w chWindow, first int) string {
	u := c.union(ws, w, model.AllKinds, func(_ model.LogKind, _ string, t chTable) string {
		return t.message + " AS msg, severity AS sev"
	})
	return "SELECT pattern, sum(n) AS count, argMax(sev, (n, sev)) AS severity FROM (SELECT " + chPatternSQL("msg") +
		" AS pattern, sev, sum(n) AS n FROM (SELECT msg, sev, count() AS n FROM " + u + " GROUP BY msg, sev) GROUP BY pattern, sev)" +
		" GROUP BY pattern ORDER BY count DESC, pattern LIMIT " + strconv.Itoa(first)
}

// Loading.

// chRow turns one line of /v1/export/{kind}.ndjson into a JSONEachRow line of the
// kind's table: the time column as whole Unix seconds (floored), objects and
// arrays (details, errors, alerts) as their JSON text, booleans as 0/1, and the
// workspace added.
func chRow(line []byte, timeColumn, ws string) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return nil, fmt.Errorf("export line: %w", err)
	}
	for name, v := range fields {
		switch {
		case name == timeColumn:
			var t time.Time
			if err := json.Unmarshal(v, &t); err != nil {
				return nil, fmt.Errorf("export line: %s: %w", name, err)
			}
			fields[name] = json.RawMessage(strconv.FormatInt(t.Unix(), 10))
		case len(v) > 0 && (v[0] == '{' || v[0] == '['):
			s, _ := json.Marshal(string(v))
			fields[name] = s
		case string(v) == "true":
			fields[name] = json.RawMessage("1")
		case string(v) == "false":
			fields[name] = json.RawMessage("0")
		}
	}
	wsJSON, _ := json.Marshal(ws)
	fields["workspace"] = wsJSON
	return json.Marshal(fields)
}

// loadDone is the table a complete load ends by writing: the workspace and its rows.
const loadDone = "load_done"

// loaded reports whether the database holds a complete load of workspace ws (one
// interrupted, or of another workspace, is not).
func (c *clickHouse) loaded(ctx context.Context, ws string) (bool, error) {
	exists, err := c.rows(ctx, "EXISTS TABLE "+c.db+"."+loadDone)
	if err != nil || len(exists) != 1 || chString(exists[0][0]) != "1" {
		return false, err
	}
	rows, err := c.rows(ctx, "SELECT count() FROM "+c.db+"."+loadDone+" WHERE workspace = "+chQuote(ws))
	return err == nil && len(rows) == 1 && chString(rows[0][0]) == "1", err
}

// markLoaded records a complete load of workspace ws, of rows rows.
func (c *clickHouse) markLoaded(ctx context.Context, ws string, rows int64) error {
	for _, q := range []string{
		"CREATE TABLE " + c.db + "." + loadDone + " (workspace String, rows UInt64) ENGINE = TinyLog",
		fmt.Sprintf("INSERT INTO %s.%s VALUES (%s, %d)", c.db, loadDone, chQuote(ws), rows),
	} {
		if _, err := c.do(ctx, q, nil); err != nil {
			return err
		}
	}
	return nil
}

// load (re)creates the kind's table and fills it from export, the body of
// /v1/export/{kind}.ndjson, streamed: each line is converted (chRow) and sent on
// in one INSERT ... FORMAT JSONEachRow. Daily partitions, as loggraph's.
func (c *clickHouse) load(ctx context.Context, k model.LogKind, ws string, export io.Reader) (int64, error) {
	table := c.db + "." + k.Table()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + c.db,
		"DROP TABLE IF EXISTS " + c.db + "." + loadDone,
		"DROP TABLE IF EXISTS " + table,
		fmt.Sprintf("CREATE TABLE %s (workspace String, %s) ENGINE = MergeTree PARTITION BY toDate(%s) ORDER BY (workspace, %s)",
			table, chTables[k].columns, k.TimeColumn(), k.TimeColumn()),
	} {
		if _, err := c.do(ctx, q, nil); err != nil {
			return 0, err
		}
	}
	pr, pw := io.Pipe()
	var n int64
	go func() {
		br := bufio.NewReaderSize(export, 1<<20)
		bw := bufio.NewWriterSize(pw, 1<<20)
		var err error
		for {
			var line []byte
			line, err = br.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				row, cerr := chRow(line, k.TimeColumn(), ws)
				if cerr != nil {
					err = cerr
					break
				}
				bw.Write(row)
				bw.WriteByte('\n')
				n++
			}
			if err != nil {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	_, err := c.do(ctx, "INSERT INTO "+table+" FORMAT JSONEachRow", pr)
	pr.CloseWithError(io.ErrClosedPipe) // stops the converter if the INSERT failed early
	if err != nil {
		return n, fmt.Errorf("load %s: %w", k.Table(), err)
	}
	// Merged now, as background merges would in time: measured and read settled.
	_, err = c.do(ctx, "OPTIMIZE TABLE "+table+" FINAL", nil)
	return n, err
}

// partSize is one table's active parts: rows and bytes on disk.
type partSize struct{ rows, bytes int64 }

// sizes reads system.parts for the database's tables.
func (c *clickHouse) sizes(ctx context.Context) (map[string]partSize, error) {
	rows, err := c.rows(ctx, "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = "+chQuote(c.db)+" AND active GROUP BY table")
	if err != nil {
		return nil, err
	}
	out := map[string]partSize{}
	for _, r := range rows {
		n, err1 := chFloat(r[1])
		b, err2 := chFloat(r[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		out[chString(r[0])] = partSize{int64(n), int64(b)}
	}
	return out, nil
}
