package model

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLPEncoding is the encoding of an OTLP/HTTP request and of its response.
type OTLPEncoding int

// The two OTLP/HTTP encodings.
const (
	OTLPProtobuf OTLPEncoding = iota // application/x-protobuf
	OTLPJSON                         // application/json (OTLP/JSON: hex trace and span ids)
)

// OTLPUnknownService is an app log's service when the resource has no service.name
// (the OpenTelemetry SDKs' own default).
const OTLPUnknownService = "unknown_service"

// OTLPRecordUIDAttribute is the semantic-convention attribute of a log record's
// unique id: when present, it is the record's identity.
const OTLPRecordUIDAttribute = "log.record.uid"

// DecodeOTLPLogs reads an ExportLogsServiceRequest in either encoding. Unknown JSON
// fields are ignored, as OTLP/JSON requires. In OTLP/JSON the trace and span ids are
// hex, not base64: they are turned into their bytes here, so that both encodings
// of one record decode to the same message; an id that is not hex is left for
// OTLPLogs to reject with its record.
func DecodeOTLPLogs(data []byte, enc OTLPEncoding) (*collogspb.ExportLogsServiceRequest, error) {
	req := &collogspb.ExportLogsServiceRequest{}
	if enc == OTLPProtobuf {
		if err := proto.Unmarshal(data, req); err != nil {
			return nil, fmt.Errorf("not an OTLP ExportLogsServiceRequest in protobuf: %s", protoErrorText(err))
		}
		return req, nil
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, req); err != nil {
		return nil, fmt.Errorf("not an OTLP/JSON ExportLogsServiceRequest: %s", protoErrorText(err))
	}
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.GetScopeLogs() {
			for _, rec := range sl.GetLogRecords() {
				rec.TraceId = hexID(rec.TraceId, 16)
				rec.SpanId = hexID(rec.SpanId, 8)
			}
		}
	}
	return req, nil
}

// protoErrorText is a protobuf decoding error's text with plain spaces: the
// protobuf module puts a no-break space after "proto:" at random, to keep callers
// from matching its messages; this server's answers stay stable.
func protoErrorText(err error) string { return strings.ReplaceAll(err.Error(), "\u00a0", " ") }

// hexID undoes protojson's reading of a hex id as base64: 2n hex digits read as
// base64 are 3n/2 bytes, whose base64 text is the digits again. Anything else is
// returned as it is (the wrong length, which OTLPLogs rejects). An id that is not
// even base64 text fails the whole request in protojson.
func hexID(b []byte, n int) []byte {
	if len(b) != 3*n/2 {
		return b
	}
	id, err := hex.DecodeString(base64.StdEncoding.EncodeToString(b))
	if err != nil {
		return b
	}
	return id
}

// OTLPLogs maps the records of an OTLP logs export onto app logs, record by record:
// the valid ones are in the batch, the others in the *BatchError (nil when every
// record is valid), numbered by their 1-based position in the request. A batch over
// IngestLimits.MaxRecords is refused as a whole (only the error then).
//
// Mapping: resource attribute service.name -> service (OTLPUnknownService when
// absent); severity number (or, without one, severity text) -> level; body ->
// message (non-string bodies as JSON); resource attributes, scope name and version
// (otel.scope.name, otel.scope.version) and record attributes -> details, the
// record's winning over the resource's on the same key; time_unix_nano, else
// observed_time_unix_nano, else the receive time -> timestamp; trace_id, span_id.
// The id is log.record.uid when given (a UUID as it is, other text hashed), else a
// UUIDv8 hashed from the record and its resource and scope, so that a retried
// export stores nothing twice.
func OTLPLogs(req *collogspb.ExportLogsServiceRequest, enc OTLPEncoding, received time.Time, limits IngestLimits) (*Batch, *BatchError) {
	p := NewBatchParser(KindApp, received, limits)
	n := 0
	for ri, rl := range req.ResourceLogs {
		res := newOTLPResource(rl)
		for si, sl := range rl.GetScopeLogs() {
			scope := res.withScope(sl.GetScope())
			for li, rec := range sl.GetLogRecords() {
				n++
				if msg := p.addOTLP(n, scope, rec, enc); msg != "" {
					p.Reject(n, fmt.Sprintf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]: %s", ri, si, li, msg))
				}
			}
		}
	}
	return p.finishPartial(n, "the export", "log records")
}

// finishPartial returns the valid records of a request of n records and the
// rejected ones (nil when none); over IngestLimits.MaxRecords, the request is refused
// as a whole (only the error then).
func (p *BatchParser) finishPartial(n int, request, records string) (*Batch, *BatchError) {
	if p.limits.MaxRecords > 0 && n > p.limits.MaxRecords {
		return nil, &BatchError{Total: n, Lines: []LineError{{Line: p.limits.MaxRecords + 1,
			Message: fmt.Sprintf("%s has %d %s; at most %d are allowed", request, n, records, p.limits.MaxRecords)}}}
	}
	b := p.batch
	if p.errs.Total == 0 {
		return &b, nil
	}
	e := p.errs
	return &b, &e
}

// otlpScope is what a record inherits: its service, the resource attributes and
// scope fields its details start with, and the hash of both (for record ids).
type otlpScope struct {
	service    string
	serviceBad string               // why service.name cannot be stored, if it cannot
	attrs      []*commonpb.KeyValue // resource attributes (but service.name), then the scope's
	pairs      []byte               // attrs as `"key":value,` JSON members
	keys       map[string]bool      // attrs' keys
	digest     [sha256.Size]byte
}

var otlpIDNamespace = uuid.MustParse("6f1c7b52-3c9e-4d0a-9a43-2d5b0e8f7a11")

func newOTLPResource(rl *logspb.ResourceLogs) otlpScope {
	s := otlpScope{service: OTLPUnknownService}
	var attrs []*commonpb.KeyValue
	for _, kv := range rl.GetResource().GetAttributes() {
		if kv.GetKey() == "service.name" {
			if v := anyText(kv.GetValue()); v != "" {
				s.service = v
			}
			continue
		}
		attrs = append(attrs, kv)
	}
	if len(s.service) > maxNameBytes {
		s.serviceBad = fmt.Sprintf("resource attribute \"service.name\" is %d bytes long; at most %d are allowed", len(s.service), maxNameBytes)
	} else if strings.IndexByte(s.service, 0) >= 0 {
		s.serviceBad = "resource attribute \"service.name\" contains a NUL byte, which cannot be stored"
	}
	s.setAttrs(attrs)
	h := sha256.New()
	h.Write(otlpIDNamespace[:])
	hashMessage(h, rl.GetResource())
	copy(s.digest[:], h.Sum(nil))
	return s
}

func (s *otlpScope) setAttrs(attrs []*commonpb.KeyValue) {
	s.attrs, s.pairs, s.keys = attrs, nil, make(map[string]bool, len(attrs))
	for _, kv := range attrs {
		s.pairs = appendJSONMember(s.pairs, kv.GetKey(), kv.GetValue())
		s.keys[kv.GetKey()] = true
	}
}

func (s otlpScope) withScope(sc *commonpb.InstrumentationScope) otlpScope {
	if sc == nil {
		return s
	}
	h := sha256.New()
	h.Write(s.digest[:])
	hashMessage(h, sc)
	copy(s.digest[:], h.Sum(nil))
	attrs := s.attrs[:len(s.attrs):len(s.attrs)] // appends copy: the resource's list stays as it is
	if sc.GetName() != "" {
		attrs = append(attrs, &commonpb.KeyValue{Key: "otel.scope.name", Value: stringValue(sc.GetName())})
	}
	if sc.GetVersion() != "" {
		attrs = append(attrs, &commonpb.KeyValue{Key: "otel.scope.version", Value: stringValue(sc.GetVersion())})
	}
	s.setAttrs(attrs)
	return s
}

func stringValue(v string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
}

// hashMessage writes a message's deterministic protobuf encoding, length first.
func hashMessage(h hash.Hash, m proto.Message) {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m) // nothing in these messages fails to encode
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(len(b)))
	h.Write(l[:])
	h.Write(b)
}

// addOTLP validates one record and adds it to the batch, or returns why not.
func (p *BatchParser) addOTLP(n int, s otlpScope, rec *logspb.LogRecord, enc OTLPEncoding) string {
	var c fieldCheck
	if s.serviceBad != "" {
		c.problems = append(c.problems, s.serviceBad)
	}
	out := AppRecord{RecordMeta: RecordMeta{Line: n, IDGiven: true}}
	out.Log.Service = s.service
	out.Log.Timestamp, out.TimeGiven = p.otlpTime(&c, rec)
	level, unknownText := otlpSeverity(&c, rec.GetSeverityNumber(), rec.GetSeverityText())
	out.Log.Level = level
	if body := rec.GetBody(); body != nil {
		if sv, ok := body.GetValue().(*commonpb.AnyValue_StringValue); ok {
			out.Log.Message = sv.StringValue
		} else {
			out.Log.Message = string(appendAnyJSON(nil, body))
		}
		c.text("body", &out.Log.Message, false, 0)
	}
	// Details: the resource's and scope's members, but those the record's attributes
	// name again (the record's win), then the record's.
	var uid string
	overlap := false
	for _, kv := range rec.GetAttributes() {
		overlap = overlap || s.keys[kv.GetKey()]
		if kv.GetKey() == OTLPRecordUIDAttribute {
			uid = anyText(kv.GetValue())
		}
	}
	d := append(make([]byte, 0, 64+len(s.pairs)), '{')
	if !overlap {
		d = append(d, s.pairs...)
	} else {
		own := make(map[string]bool, len(rec.GetAttributes()))
		for _, kv := range rec.GetAttributes() {
			own[kv.GetKey()] = true
		}
		for _, kv := range s.attrs {
			if !own[kv.GetKey()] {
				d = appendJSONMember(d, kv.GetKey(), kv.GetValue())
			}
		}
	}
	if rec.GetEventName() != "" {
		d = appendJSONMember(d, "event.name", stringValue(rec.GetEventName()))
	}
	if unknownText {
		d = appendJSONMember(d, "severity_text", stringValue(rec.GetSeverityText()))
	}
	for _, kv := range rec.GetAttributes() {
		d = appendJSONMember(d, kv.GetKey(), kv.GetValue())
	}
	if len(d) > 1 {
		d[len(d)-1] = '}' // the last member's comma
		out.Log.Details = p.details(&c, "attributes", d)
	}
	if size := len(out.Log.Message) + len(out.Log.Details); size > p.limits.MaxLineBytes {
		c.problems = append(c.problems, fmt.Sprintf("the record's body and attributes are %d bytes; at most %d are allowed", size, p.limits.MaxLineBytes))
	}
	out.Log.TraceID, out.Log.SpanID = otlpTraceIDs(&c, rec.GetTraceId(), rec.GetSpanId(), enc)
	if !c.ok() {
		return c.message()
	}
	if uid != "" {
		if id, err := uuid.Parse(uid); err == nil && len(uid) == 36 {
			out.Log.ID = id
		} else {
			out.Log.ID = uuidV8(sha256.Sum256(append(otlpIDNamespace[:], uid...)))
		}
	} else {
		h := sha256.New()
		h.Write(s.digest[:])
		hashMessage(h, rec)
		var sum [sha256.Size]byte
		copy(sum[:], h.Sum(nil))
		out.Log.ID = uuidV8(sum)
	}
	p.batch.App = append(p.batch.App, out)
	return ""
}

// uuidV8 is a UUID version 8 (RFC 9562, custom) made of a hash's first 122 bits.
func uuidV8(sum [sha256.Size]byte) uuid.UUID {
	var id uuid.UUID
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x80
	id[8] = id[8]&0x3f | 0x80
	return id
}

// otlpTime is the record's time (else its observed time, else the receive time),
// rounded to microseconds and checked against the accepted window.
func (p *BatchParser) otlpTime(c *fieldCheck, rec *logspb.LogRecord) (time.Time, bool) {
	field, ns := "timeUnixNano", rec.GetTimeUnixNano()
	if ns == 0 {
		field, ns = "observedTimeUnixNano", rec.GetObservedTimeUnixNano()
	}
	if ns == 0 {
		return p.batch.Received, false
	}
	text := strconv.FormatUint(ns, 10)
	if ns > math.MaxInt64 {
		c.addf(field, "%s is outside the supported range 1900-01-01..9999-12-31", text)
		return p.batch.Received, true
	}
	t := time.Unix(0, int64(ns)).UTC().Round(time.Microsecond)
	p.checkTime(c, field, t, text+" ("+t.Format(time.RFC3339Nano)+")")
	return t, true
}

// otlpSeverity maps a severity number (1-4 TRACE and 5-8 DEBUG: DEBUG; 9-12 INFO;
// 13-16 WARN; 17-20 ERROR; 21-24 FATAL) or, without one, the severity text onto a
// level. A text that names no level is INFO, and unknownText asks to keep it.
func otlpSeverity(c *fieldCheck, n logspb.SeverityNumber, text string) (level Severity, unknownText bool) {
	switch {
	case n >= 1 && n <= 24:
		return []Severity{SeverityDebug, SeverityDebug, SeverityInfo, SeverityWarn, SeverityError, SeverityFatal}[(n-1)/4], false
	case n != 0:
		c.addf("severityNumber", "%d is out of range 0..24", int32(n))
		return SeverityInfo, false
	}
	if level, ok := SeverityFromText(text); ok {
		return level, false
	}
	return SeverityInfo, text != ""
}

// SeverityFromText reads the level names shippers and logging libraries write, in
// any case, trailing digits ignored (OpenTelemetry's INFO2): trace, debug, info,
// notice, warn[ing], err[or], fatal, critical, alert, emerg[ency], panic.
func SeverityFromText(text string) (Severity, bool) {
	switch strings.ToUpper(strings.TrimRight(strings.TrimSpace(text), "0123456789")) {
	case "TRACE", "DEBUG", "DBG":
		return SeverityDebug, true
	case "INFO", "INFORMATION", "NOTICE":
		return SeverityInfo, true
	case "WARN", "WARNING":
		return SeverityWarn, true
	case "ERROR", "ERR":
		return SeverityError, true
	case "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY", "PANIC":
		return SeverityFatal, true
	}
	return 0, false
}

// otlpTraceIDs reads a record's trace and span ids: empty or all zero is none (the
// OpenTelemetry "invalid" id); a span id needs a trace id.
func otlpTraceIDs(c *fieldCheck, trace, span []byte, enc OTLPEncoding) (*TraceID, *SpanID) {
	var t *TraceID
	var s *SpanID
	if b := otlpID(c, "traceId", trace, len(TraceID{}), enc); b != nil {
		id := TraceID(b)
		t = &id
	}
	if b := otlpID(c, "spanId", span, len(SpanID{}), enc); b != nil {
		id := SpanID(b)
		s = &id
	}
	if s != nil && t == nil {
		if len(trace) == 0 {
			c.addf("spanId", "a span id needs a traceId")
		}
		s = nil // an all-zero trace id: no trace, so no span either
	}
	return t, s
}

// otlpID checks an id of n bytes; empty or all zero is none (nil).
func otlpID(c *fieldCheck, field string, b []byte, n int, enc OTLPEncoding) []byte {
	switch {
	case len(b) == n:
		for _, x := range b {
			if x != 0 {
				return b
			}
		}
	case len(b) != 0 && enc == OTLPJSON:
		c.addf(field, "is not %d hex digits", 2*n)
	case len(b) != 0:
		c.addf(field, "is %d bytes long; want %d", len(b), n)
	}
	return nil
}

// appendJSONMember appends `"key":value,`.
func appendJSONMember(b []byte, key string, v *commonpb.AnyValue) []byte {
	b = appendJSONString(b, key)
	b = append(b, ':')
	b = appendAnyJSON(b, v)
	return append(b, ',')
}

// anyText is a value as text: a string as it is, anything else as JSON.
func anyText(v *commonpb.AnyValue) string {
	if sv, ok := v.GetValue().(*commonpb.AnyValue_StringValue); ok {
		return sv.StringValue
	}
	return string(appendAnyJSON(nil, v))
}

// appendAnyJSON appends an attribute value as JSON: strings, booleans, integers and
// doubles as themselves (NaN and infinities as the strings "NaN", "Infinity",
// "-Infinity"), arrays and key-value lists as arrays and objects, bytes as base64
// (as OTLP/JSON writes them), nothing as null.
func appendAnyJSON(b []byte, v *commonpb.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return appendJSONString(b, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(b, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(b, x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		switch f := x.DoubleValue; {
		case math.IsNaN(f):
			return append(b, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(b, `"Infinity"`...)
		case math.IsInf(f, -1):
			return append(b, `"-Infinity"`...)
		default:
			return strconv.AppendFloat(b, f, 'g', -1, 64)
		}
	case *commonpb.AnyValue_BytesValue:
		return appendJSONString(b, base64.StdEncoding.EncodeToString(x.BytesValue))
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAnyJSON(b, e)
		}
		return append(b, ']')
	case *commonpb.AnyValue_KvlistValue:
		b = append(b, '{')
		n := len(b)
		for _, kv := range x.KvlistValue.GetValues() {
			b = appendJSONMember(b, kv.GetKey(), kv.GetValue())
		}
		if len(b) > n {
			b = b[:len(b)-1]
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// appendJSONString appends s as a JSON string (s is valid UTF-8: protobuf and JSON
// decoding both check it; an invalid byte would become U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r)
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
