package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// LokiLabel is a stream label or an entry's structured metadata.
type LokiLabel struct{ Name, Value string }

// LokiStream is one stream of a Loki push: its labels (sorted by name) and entries.
type LokiStream struct {
	Labels  []LokiLabel
	Raw     string // the labels as sent, when they cannot be read
	Bad     string // why the labels cannot be read, if they cannot: every entry is rejected
	Entries []LokiEntry
}

// LokiEntry is one log line with its time (Unix nanoseconds) and structured metadata.
type LokiEntry struct {
	UnixNano int64
	Line     string
	Metadata []LokiLabel
	Bad      string // why the entry cannot be read, if it cannot
}

// DecodeLokiProto reads a logproto.PushRequest (already snappy-decoded):
//
//	PushRequest   { repeated Stream streams = 1; }
//	Stream        { string labels = 1; repeated Entry entries = 2; uint64 hash = 3; }
//	Entry         { google.protobuf.Timestamp timestamp = 1; string line = 2;
//	                repeated LabelPair structuredMetadata = 3; }
//	LabelPair     { string name = 1; string value = 2; }
//	Timestamp     { int64 seconds = 1; int32 nanos = 2; }
//
// Unknown fields are skipped; a body that is not protobuf is an error.
func DecodeLokiProto(data []byte) ([]LokiStream, error) {
	var streams []LokiStream
	err := protoFields(data, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		st, err := decodeLokiStream(v)
		streams = append(streams, st)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("not a Loki PushRequest in protobuf: %w", err)
	}
	return streams, nil
}

func decodeLokiStream(data []byte) (LokiStream, error) {
	var st LokiStream
	err := protoFields(data, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			st.Labels, st.Raw, st.Bad = nil, strings.ToValidUTF8(string(v), "\uFFFD"), ""
			if !utf8.Valid(v) {
				st.Bad = "labels are not valid UTF-8"
			} else if labels, err := ParseLokiLabels(string(v)); err != nil {
				st.Bad = err.Error()
			} else {
				st.Labels = labels
			}
		case num == 2 && typ == protowire.BytesType:
			e, err := decodeLokiEntry(v)
			if err != nil {
				return err
			}
			st.Entries = append(st.Entries, e)
		}
		return nil
	})
	return st, err
}

func decodeLokiEntry(data []byte) (LokiEntry, error) {
	var e LokiEntry
	var secs, nanos int64
	err := protoFields(data, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			return protoFields(v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					secs = int64(n)
				case num == 2 && typ == protowire.VarintType:
					nanos = int64(int32(n))
				}
				return nil
			})
		case num == 2 && typ == protowire.BytesType:
			e.Line = string(v)
		case num == 3 && typ == protowire.BytesType:
			var l LokiLabel
			err := protoFields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					l.Name = string(v)
				case num == 2 && typ == protowire.BytesType:
					l.Value = string(v)
				}
				return nil
			})
			e.Metadata = append(e.Metadata, l)
			return err
		}
		return nil
	})
	if secs > math.MaxInt64/int64(time.Second)-1 || secs < math.MinInt64/int64(time.Second)+1 {
		e.Bad = fmt.Sprintf("field \"timestamp\": %d seconds is outside the supported range 1900-01-01..9999-12-31", secs)
	} else {
		e.UnixNano = secs*int64(time.Second) + nanos
	}
	return e, err
}

// protoFields calls f with each field of a protobuf message: for the bytes type its
// bytes, for varints their value (fixed-width values and groups are skipped).
func protoFields(b []byte, f func(protowire.Number, protowire.Type, []byte, uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// DecodeLokiJSON reads a Loki push in JSON:
// {"streams":[{"stream":{"label":"value"},"values":[["<unix ns>","<line>",{"metadata":"value"}]]}]}.
// A body that is not such an object is an error; an entry that is not such an
// array is rejected with its stream.
func DecodeLokiJSON(data []byte) ([]LokiStream, error) {
	var req struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values []json.RawMessage `json:"values"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("not a Loki push request in JSON: %s", describeJSONError(err))
	}
	streams := make([]LokiStream, 0, len(req.Streams))
	for _, s := range req.Streams {
		st := LokiStream{Labels: make([]LokiLabel, 0, len(s.Stream))}
		for k, v := range s.Stream {
			st.Labels = append(st.Labels, LokiLabel{k, v})
		}
		sortLabels(st.Labels)
		for _, raw := range s.Values {
			st.Entries = append(st.Entries, decodeLokiJSONEntry(raw))
		}
		streams = append(streams, st)
	}
	return streams, nil
}

func decodeLokiJSONEntry(raw json.RawMessage) LokiEntry {
	var e LokiEntry
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) < 2 || len(parts) > 3 {
		e.Bad = `an entry must be ["<unix epoch in nanoseconds>", "<log line>"] or with a third element, an object of structured metadata`
		return e
	}
	var ts string
	if err := json.Unmarshal(parts[0], &ts); err != nil {
		e.Bad = "field \"timestamp\": must be a string of Unix epoch nanoseconds"
		return e
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		e.Bad = fmt.Sprintf("field \"timestamp\": %q is not a Unix epoch in nanoseconds", truncate(ts, 64))
		return e
	}
	e.UnixNano = n
	if err := json.Unmarshal(parts[1], &e.Line); err != nil {
		e.Bad = "field \"line\": must be a string"
		return e
	}
	if len(parts) == 3 {
		var md map[string]string
		if err := json.Unmarshal(parts[2], &md); err != nil {
			e.Bad = "structured metadata must be an object of strings"
			return e
		}
		for k, v := range md {
			e.Metadata = append(e.Metadata, LokiLabel{k, v})
		}
		sortLabels(e.Metadata)
	}
	return e
}

func sortLabels(ls []LokiLabel) {
	slices.SortFunc(ls, func(a, b LokiLabel) int { return strings.Compare(a.Name, b.Name) })
}

var errLabels = errors.New(`labels must be written {name="value", ...}`)

// ParseLokiLabels reads a stream's labels as Prometheus writes them:
// {name="value", other="va\"lue"} (values are Go-quoted strings). They come back
// sorted by name.
func ParseLokiLabels(s string) ([]LokiLabel, error) {
	in := strings.TrimSpace(s)
	if !strings.HasPrefix(in, "{") || !strings.HasSuffix(in, "}") {
		return nil, fmt.Errorf("%w, got %q", errLabels, truncate(s, 64))
	}
	in = strings.TrimSpace(in[1 : len(in)-1])
	var out []LokiLabel
	for in != "" {
		eq := strings.IndexByte(in, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w, got %q", errLabels, truncate(s, 64))
		}
		name := strings.TrimSpace(in[:eq])
		if !validLabelName(name) {
			return nil, fmt.Errorf("label name %q is not valid: want [a-zA-Z_][a-zA-Z0-9_]*", truncate(name, 64))
		}
		rest := strings.TrimSpace(in[eq+1:])
		end := quotedEnd(rest)
		if end < 0 {
			return nil, fmt.Errorf("label %s: the value must be a double-quoted string", name)
		}
		value, err := strconv.Unquote(rest[:end])
		if err != nil {
			return nil, fmt.Errorf("label %s: the value must be a double-quoted string", name)
		}
		out = append(out, LokiLabel{name, value})
		in = strings.TrimSpace(rest[end:])
		if in != "" {
			if in[0] != ',' {
				return nil, fmt.Errorf("%w, got %q", errLabels, truncate(s, 64))
			}
			in = strings.TrimSpace(in[1:])
		}
	}
	sortLabels(out)
	return out, nil
}

// quotedEnd is the length of the double-quoted string s starts with, or -1.
func quotedEnd(s string) int {
	if s == "" || s[0] != '"' {
		return -1
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func validLabelName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// LokiServiceLabels are the labels that name an entry's service, in order of
// preference (Loki's own service_name first); without any, the service is
// OTLPUnknownService.
var LokiServiceLabels = []string{"service_name", "service", "app", "application", "app_kubernetes_io_name", "container", "job"}

// LokiLevelLabels are the labels (or structured metadata) that give an entry's
// level (SeverityFromText); without any, or with a text that names no level, it is INFO.
var LokiLevelLabels = []string{"level", "detected_level", "severity", "lvl", "loglevel"}

// LokiTraceKeys are the structured metadata (or labels) that give an entry's trace
// and span ids, taken when they are valid W3C ids (else they stay in details only).
var (
	LokiTraceKeys = []string{"trace_id", "traceID", "traceId", "traceid"}
	LokiSpanKeys  = []string{"span_id", "spanID", "spanId", "spanid"}
)

// LokiLogs maps Loki streams onto app logs, entry by entry, as OTLPLogs does: the
// valid entries are in the batch, the others in the *BatchError (nil when none),
// numbered by their 1-based position in the request. Labels and structured
// metadata (which wins on the same name) are the details, but the service label;
// the id is a UUIDv8 hashed from the stream's labels, the time, the line and the
// metadata, so that a push sent again stores nothing twice (Loki's own rule: an
// entry repeating a stream's time and line is dropped).
func LokiLogs(streams []LokiStream, received time.Time, limits IngestLimits) (*Batch, *BatchError) {
	p := NewBatchParser(KindApp, received, limits)
	n := 0
	for si, st := range streams {
		labels := LokiLabelsText(st.Labels)
		if st.Bad != "" {
			labels = st.Raw
		}
		service, serviceLabel := OTLPUnknownService, ""
		for _, name := range LokiServiceLabels {
			if v := labelValue(st.Labels, name); v != "" {
				service, serviceLabel = v, name
				break
			}
		}
		h := sha256.New()
		h.Write(otlpIDNamespace[:])
		h.Write([]byte(labels))
		var digest [sha256.Size]byte
		copy(digest[:], h.Sum(nil))
		for ei, e := range st.Entries {
			n++
			if msg := p.addLoki(n, &st, e, service, serviceLabel, digest); msg != "" {
				p.Reject(n, fmt.Sprintf("streams[%d].values[%d] of stream %s: %s", si, ei, truncate(labels, 256), msg))
			}
		}
	}
	return p.finishPartial(n, "the push", "entries")
}

func labelValue(ls []LokiLabel, name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// LokiLabelsText writes labels as Prometheus does: {a="1", b="2"}.
func LokiLabelsText(ls []LokiLabel) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name + "=" + strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

func (p *BatchParser) addLoki(n int, st *LokiStream, e LokiEntry, service, serviceLabel string, digest [sha256.Size]byte) string {
	switch {
	case st.Bad != "":
		return "labels: " + st.Bad
	case e.Bad != "":
		return e.Bad
	}
	var c fieldCheck
	out := AppRecord{RecordMeta: RecordMeta{Line: n, IDGiven: true, TimeGiven: true}}
	out.Log.Service = c.text("service", &service, true, maxNameBytes)
	t := time.Unix(0, e.UnixNano).UTC().Round(time.Microsecond)
	p.checkTime(&c, "timestamp", t, strconv.FormatInt(e.UnixNano, 10)+" ("+t.Format(time.RFC3339Nano)+")")
	out.Log.Timestamp = t
	if !utf8.ValidString(e.Line) {
		c.addf("line", "invalid UTF-8 at byte %d", invalidUTF8Offset([]byte(e.Line)))
	}
	out.Log.Message = c.text("line", &e.Line, false, 0)
	// Details: the labels (but the service's) and the metadata, which wins.
	all := make([]LokiLabel, 0, len(st.Labels)+len(e.Metadata))
	for _, l := range st.Labels {
		if l.Name != serviceLabel && labelValue(e.Metadata, l.Name) == "" {
			all = append(all, l)
		}
	}
	all = append(all, e.Metadata...)
	out.Log.Level = SeverityInfo
	for _, name := range LokiLevelLabels {
		if v := labelValue(all, name); v != "" {
			if level, ok := SeverityFromText(v); ok {
				out.Log.Level = level
				break
			}
		}
	}
	out.Log.TraceID = firstValid(all, LokiTraceKeys, ParseTraceID)
	if out.Log.TraceID != nil { // a span belongs to a trace
		out.Log.SpanID = firstValid(all, LokiSpanKeys, ParseSpanID)
	}
	d := []byte{'{'}
	for _, l := range all {
		if !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
			c.addf("structured metadata", "%q is not valid UTF-8", truncate(l.Name, 64))
			continue
		}
		d = appendJSONString(d, l.Name)
		d = append(d, ':')
		d = appendJSONString(d, l.Value)
		d = append(d, ',')
	}
	if len(d) > 1 {
		d[len(d)-1] = '}'
		out.Log.Details = p.details(&c, "labels", d)
	}
	if size := len(out.Log.Message) + len(out.Log.Details); size > p.limits.MaxLineBytes {
		c.problems = append(c.problems, fmt.Sprintf("the entry's line, labels and metadata are %d bytes; at most %d are allowed", size, p.limits.MaxLineBytes))
	}
	if !c.ok() {
		return c.message()
	}
	h := sha256.New()
	h.Write(digest[:])
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(e.UnixNano))
	h.Write(ts[:])
	for _, part := range []string{e.Line, LokiLabelsText(e.Metadata)} {
		binary.BigEndian.PutUint64(ts[:], uint64(len(part)))
		h.Write(ts[:])
		h.Write([]byte(part))
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	out.Log.ID = uuidV8(sum)
	p.batch.App = append(p.batch.App, out)
	return ""
}

// firstValid parses the first of keys that ls has and parse accepts.
func firstValid[T any](ls []LokiLabel, keys []string, parse func(string) (T, error)) *T {
	for _, k := range keys {
		if v := labelValue(ls, k); v != "" {
			if id, err := parse(v); err == nil {
				return &id
			}
		}
	}
	return nil
}
