package model

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// IngestLimits bounds one ingest batch. Zero values take the defaults.
type IngestLimits struct {
	MaxLineBytes    int // longest NDJSON line or array element
	MaxDetailsDepth int // deepest nesting of app log details
	MaxErrors       int // bad lines listed in a rejection
	MaxRecords      int // records per batch; 0 means unlimited
	// MaxAge and MaxFuture bound the time field of every record: it must lie within
	// [received-MaxAge, received+MaxFuture]. Each accepted day, month or year may need a
	// partition, so this window is what bounds the partitions an ingest can create
	// (see db.Partitions).
	MaxAge    time.Duration
	MaxFuture time.Duration
}

// Default ingest limits, as the product page states them.
const (
	DefaultMaxLineBytes    = 1 << 20
	DefaultMaxDetailsDepth = 32
	DefaultMaxErrors       = 100
	// maxNameBytes bounds every btree-indexed text (service, endpoint, ids, names):
	// PostgreSQL refuses index entries over ~2.7 kB with an internal error.
	maxNameBytes = 1024

	// DefaultMaxAge accepts five years of backfill (1,826 days: five years and a leap
	// day): the seeds' own 2023 and 2024 examples still land, and logs older than
	// any usual retention are refused. Older rows go into yearly partitions, so a
	// longer window adds about one partition per table per extra year.
	DefaultMaxAge = 1826 * 24 * time.Hour
	// DefaultMaxFuture tolerates producers' clock skew and a local time sent as UTC
	// (at most 14 hours off) with margin. It stays inside the seven days of daily
	// partitions the server creates ahead, so a future time never creates one.
	DefaultMaxFuture = 2 * 24 * time.Hour
)

func (l IngestLimits) withDefaults() IngestLimits {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultMaxLineBytes
	}
	if l.MaxDetailsDepth <= 0 {
		l.MaxDetailsDepth = DefaultMaxDetailsDepth
	}
	if l.MaxErrors <= 0 {
		l.MaxErrors = DefaultMaxErrors
	}
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultMaxAge
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = DefaultMaxFuture
	}
	return l
}

// LineError is one rejected record: its 1-based line (NDJSON) or element (JSON array,
// GraphQL list) number and what is wrong with it.
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// BatchError rejects a whole batch: it lists up to IngestLimits.MaxErrors bad lines,
// and Total counts them all.
type BatchError struct {
	Lines []LineError
	Total int
}

func (e *BatchError) Error() string {
	if len(e.Lines) == 0 {
		return "batch rejected"
	}
	return fmt.Sprintf("batch rejected: %d bad record(s); first at line %d: %s", e.Total, e.Lines[0].Line, e.Lines[0].Message)
}

// RecordMeta says where a record came from and what the client sent.
type RecordMeta struct {
	Line      int  // 1-based line or element number
	IDGiven   bool // the client sent the id: a retry must not store it twice
	TimeGiven bool // the client sent the time field (else it is the batch's receive time)
}

// AppRecord is a validated application log.
type AppRecord struct {
	RecordMeta
	Log AppLog
}

// APIRequestRecord is a validated gateway request log with the names of its entities.
type APIRequestRecord struct {
	RecordMeta
	Log            APIRequestLog
	Collection     string
	CollectionType CollectionType
	Client         *string
}

// IntegrationRecord is a validated delivery log with its integration's name, if sent.
type IntegrationRecord struct {
	RecordMeta
	Log             IntegrationLog
	IntegrationName *string
}

// ActionRecord is a validated action log. A zero Log.ID is assigned by the store.
type ActionRecord struct {
	RecordMeta
	Log ActionLog
}

// APIReferenceRecord is a validated import log with its reference's and user's names.
type APIReferenceRecord struct {
	RecordMeta
	Log              APIReferenceLog
	APIReferenceName *string
	UserName         string
}

// Batch is a validated ingest batch of one kind; only the slice of its kind is filled.
type Batch struct {
	Kind         LogKind
	Received     time.Time
	App          []AppRecord
	APIRequest   []APIRequestRecord
	Integration  []IntegrationRecord
	Action       []ActionRecord
	APIReference []APIReferenceRecord
}

// Len is the number of records in the batch.
func (b *Batch) Len() int {
	return len(b.App) + len(b.APIRequest) + len(b.Integration) + len(b.Action) + len(b.APIReference)
}

// ErrBodyTooLarge is returned by readers that enforce the request body limit; the
// decoder passes it through so that the HTTP layer can answer 413.
var ErrBodyTooLarge = errors.New("request body too large")

// BatchParser validates records one by one and collects the bad ones, so that a
// rejection lists every bad line. One parser serves one batch.
type BatchParser struct {
	batch  Batch
	limits IngestLimits
	errs   BatchError
}

// NewBatchParser starts a batch of kind received at the given time (the default for
// records without a time field).
func NewBatchParser(kind LogKind, received time.Time, limits IngestLimits) *BatchParser {
	return &BatchParser{batch: Batch{Kind: kind, Received: received.UTC()}, limits: limits.withDefaults()}
}

// Finish returns the batch, or a *BatchError if any record was bad.
func (p *BatchParser) Finish() (*Batch, error) {
	if p.errs.Total > 0 {
		e := p.errs
		return nil, &e
	}
	if p.limits.MaxRecords > 0 && p.batch.Len() > p.limits.MaxRecords {
		return nil, &BatchError{Total: 1, Lines: []LineError{{Line: p.limits.MaxRecords + 1,
			Message: fmt.Sprintf("batch has %d records; at most %d are allowed", p.batch.Len(), p.limits.MaxRecords)}}}
	}
	b := p.batch
	return &b, nil
}

// Reject records a bad record with its message.
func (p *BatchParser) Reject(line int, msg string) {
	p.errs.Total++
	if len(p.errs.Lines) < p.limits.MaxErrors {
		p.errs.Lines = append(p.errs.Lines, LineError{Line: line, Message: msg})
	}
}

// DecodeBatch reads an NDJSON body, or a JSON array when the first non-space byte is
// '[', and validates every record. Read errors (such as ErrBodyTooLarge) are returned
// as they are; bad records give a *BatchError.
func DecodeBatch(kind LogKind, r io.Reader, received time.Time, limits IngestLimits) (*Batch, error) {
	p := NewBatchParser(kind, received, limits)
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := peekNonSpace(br)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if first == '[' {
		err = p.decodeArray(br)
	} else {
		err = p.decodeNDJSON(br)
	}
	if err != nil {
		return nil, err
	}
	return p.Finish()
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return b, br.UnreadByte()
		}
	}
}

func (p *BatchParser) decodeNDJSON(br *bufio.Reader) error {
	var buf []byte
	for line := 1; ; line++ {
		buf = buf[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if !tooLong {
				if len(buf)+len(chunk) > p.limits.MaxLineBytes+2 { // +2 for "\r\n"
					tooLong = true
					buf = buf[:0]
				} else {
					buf = append(buf, chunk...)
				}
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		// The terminator is not part of the line: a line of exactly the limit passes,
		// one byte more does not, with or without "\n" or "\r\n" after it.
		if !tooLong && len(bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r"))) > p.limits.MaxLineBytes {
			tooLong = true
		}
		if tooLong {
			p.Reject(line, fmt.Sprintf("line is longer than the limit of %d bytes", p.limits.MaxLineBytes))
		} else if trimmed := bytes.TrimSpace(buf); len(trimmed) > 0 {
			p.AddRaw(line, trimmed)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

func (p *BatchParser) decodeArray(br *bufio.Reader) error {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil { // the '['
		return readOrSyntax(p, 1, err)
	}
	for n := 1; ; n++ {
		if !dec.More() {
			break
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return readOrSyntax(p, n, err)
		}
		if len(raw) > p.limits.MaxLineBytes {
			p.Reject(n, fmt.Sprintf("record is longer than the limit of %d bytes", p.limits.MaxLineBytes))
			continue
		}
		p.AddRaw(n, raw)
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return readOrSyntax(p, 0, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		p.Reject(0, "malformed JSON: unexpected data after the closing ']'")
	}
	return nil
}

// readOrSyntax passes read failures through and turns a broken array into a line error.
func readOrSyntax(p *BatchParser, n int, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		p.Reject(n, "malformed JSON array: "+se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		p.Reject(n, "malformed JSON array: unexpected end of input")
	default:
		return err
	}
	return nil
}

// AddRaw validates one JSON record of the parser's kind.
func (p *BatchParser) AddRaw(n int, raw []byte) {
	if !utf8.Valid(raw) {
		p.Reject(n, fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8Offset(raw)))
		return
	}
	// encoding/json would silently turn a lone surrogate escape into U+FFFD in text
	// fields, and jsonb refuses it in details: either way the record is not what the
	// producer meant, so it is refused as a whole.
	if off, esc, ok := loneSurrogate(raw); ok {
		p.Reject(n, fmt.Sprintf("lone UTF-16 surrogate escape %s at byte %d is not valid Unicode", esc, off))
		return
	}
	var err error
	switch p.batch.Kind {
	case KindApp:
		var l AppLogLine
		if err = strictUnmarshal(raw, &l); err == nil {
			p.AddApp(n, l)
		}
	case KindAPIRequest:
		var l APIRequestLogLine
		if err = strictUnmarshal(raw, &l); err == nil {
			p.AddAPIRequest(n, l)
		}
	case KindIntegration:
		var l IntegrationLogLine
		if err = strictUnmarshal(raw, &l); err == nil {
			p.AddIntegration(n, l)
		}
	case KindAction:
		var l ActionLogLine
		if err = strictUnmarshal(raw, &l); err == nil {
			p.AddAction(n, l)
		}
	case KindAPIReference:
		var l APIReferenceLogLine
		if err = strictUnmarshal(raw, &l); err == nil {
			p.AddAPIReference(n, l)
		}
	default:
		err = fmt.Errorf("unknown log kind %q", p.batch.Kind)
	}
	if err != nil {
		p.Reject(n, describeJSONError(err))
	}
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

var errTrailingData = errors.New("unexpected data after the record")

func strictUnmarshal(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Decoder.More is false before a stray '}' or ']', so the rest is checked by hand:
	// only white space may follow the record.
	if len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0 {
		return errTrailingData
	}
	return nil
}

// describeJSONError turns encoding/json's errors into messages a producer can act on.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Sprintf("record must be a JSON object, got %s", te.Value)
		}
		want := jsonTypeName(te.Type)
		if strings.HasPrefix(te.Value, "number ") && want == "integer" {
			num := strings.TrimPrefix(te.Value, "number ")
			if _, ok := new(big.Int).SetString(num, 10); ok {
				return fmt.Sprintf("field %q: %s is out of range", te.Field, num)
			}
			return fmt.Sprintf("field %q: expected an integer, got %s", te.Field, num)
		}
		return fmt.Sprintf("field %q: expected %s, got %s", te.Field, want, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	case errors.Is(err, errTrailingData):
		return "malformed JSON: " + err.Error()
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}

// fieldCheck collects every problem of one record.
type fieldCheck struct{ problems []string }

func (c *fieldCheck) addf(field, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("field %q: ", field)+fmt.Sprintf(format, args...))
}

func (c *fieldCheck) missing(field string) {
	c.problems = append(c.problems, fmt.Sprintf("missing required field %q", field))
}

func (c *fieldCheck) ok() bool { return len(c.problems) == 0 }

func (c *fieldCheck) message() string { return strings.Join(c.problems, "; ") }

func (c *fieldCheck) text(field string, v *string, required bool, maxBytes int) string {
	if v == nil {
		if required {
			c.missing(field)
		}
		return ""
	}
	switch {
	case strings.IndexByte(*v, 0) >= 0:
		c.addf(field, "contains a NUL byte (\\u0000), which cannot be stored")
	case maxBytes > 0 && len(*v) > maxBytes:
		c.addf(field, "is %d bytes long; at most %d are allowed", len(*v), maxBytes)
	case required && maxBytes > 0 && strings.TrimSpace(*v) == "":
		c.addf(field, "must not be empty")
	}
	return *v
}

func (c *fieldCheck) optText(field string, v *string, maxBytes int) *string {
	if v == nil {
		return nil
	}
	s := c.text(field, v, false, maxBytes)
	return &s
}

func (c *fieldCheck) intRange(field string, v *int64, required bool, lo, hi int64) int {
	if v == nil {
		if required {
			c.missing(field)
		}
		return 0
	}
	if *v < lo || *v > hi {
		c.addf(field, "%d is out of range %d..%d", *v, lo, hi)
	}
	return int(*v)
}

// traceValues reads the optional trace_id and span_id of a record (a span belongs
// to a trace: a span id without a trace id is refused).
func (c *fieldCheck) traceValues(trace, span *string) (*TraceID, *SpanID) {
	var t *TraceID
	var s *SpanID
	if trace != nil {
		if id, err := ParseTraceID(*trace); err != nil {
			c.addf("trace_id", "%v", err)
		} else {
			t = &id
		}
	}
	if span != nil {
		if id, err := ParseSpanID(*span); err != nil {
			c.addf("span_id", "%v", err)
		} else if trace == nil {
			c.addf("span_id", "a span id needs a trace_id")
		} else {
			s = &id
		}
	}
	return t, s
}

func (c *fieldCheck) uuidValue(field string, v *string, required bool) (uuid.UUID, bool) {
	if v == nil {
		if required {
			c.missing(field)
		}
		return uuid.Nil, false
	}
	id, err := uuid.Parse(*v)
	if err != nil || len(*v) != 36 {
		c.addf(field, "%q is not a UUID", truncate(*v, 64))
		return uuid.Nil, false
	}
	return id, true
}

var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// timeValue parses RFC 3339 (a value without a zone is read as UTC); a missing time
// is the batch's receive time. The time must lie in the accepted window around the
// receive time (IngestLimits.MaxAge, MaxFuture), checked here before anything is
// stored or any partition created.
func (p *BatchParser) timeValue(c *fieldCheck, field string, v *string) (time.Time, bool) {
	received := p.batch.Received
	if v == nil {
		return received, false
	}
	t, err := ParseTimestamp(*v)
	if err != nil {
		c.addf(field, "%q is not an RFC 3339 time (e.g. 2024-06-13T14:30:00Z)", truncate(*v, 64))
		return received, true
	}
	// PostgreSQL keeps microseconds; round here so that the stored key equals the
	// one a retry computes. The checks apply to the rounded value: 9999-12-31T23:59:59.9999999Z
	// is year 10000 once rounded.
	t = t.Round(time.Microsecond)
	p.checkTime(c, field, t, truncate(*v, 64))
	return t, true
}

// checkTime checks a record's time (rounded to microseconds) against the supported
// range and the accepted window; text is the time as the client sent it.
func (p *BatchParser) checkTime(c *fieldCheck, field string, t time.Time, text string) {
	received := p.batch.Received
	switch {
	case t.Before(minTime) || !t.Before(maxTime):
		c.addf(field, "%s is outside the supported range 1900-01-01..9999-12-31", text)
	case t.Before(received.Add(-p.limits.MaxAge)):
		c.addf(field, "%s is more than %s in the past; %s", text, windowText(p.limits.MaxAge), p.windowText())
	case t.After(received.Add(p.limits.MaxFuture)):
		c.addf(field, "%s is more than %s in the future; %s", text, windowText(p.limits.MaxFuture), p.windowText())
	}
}

func (p *BatchParser) windowText() string {
	return fmt.Sprintf("times from %s ago to %s ahead are accepted", windowText(p.limits.MaxAge), windowText(p.limits.MaxFuture))
}

// windowText prints a window length in days when it is whole days ("1826 days"),
// else as a Go duration.
func windowText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n == 1 {
			return "1 day"
		} else {
			return fmt.Sprintf("%d days", n)
		}
	}
	return d.String()
}

// ParseTimestamp reads RFC 3339 with optional fractional seconds; a value without a
// zone offset is UTC (the Document360 swagger prints such values).
func ParseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AppLogLine is an `app` record as producers send it (snake_case, seed 002).
type AppLogLine struct {
	ID        *string         `json:"id"`
	Timestamp *string         `json:"timestamp"`
	Level     *string         `json:"level"`
	Service   *string         `json:"service"`
	Message   *string         `json:"message"`
	Details   json.RawMessage `json:"details"`
	TraceID   *string         `json:"trace_id"`
	SpanID    *string         `json:"span_id"`
}

// AddApp validates one application log.
func (p *BatchParser) AddApp(n int, l AppLogLine) {
	var c fieldCheck
	rec := AppRecord{RecordMeta: RecordMeta{Line: n}}
	rec.Log.ID, rec.IDGiven = c.uuidValue("id", l.ID, false)
	rec.Log.Timestamp, rec.TimeGiven = p.timeValue(&c, "timestamp", l.Timestamp)
	if l.Level == nil {
		c.missing("level")
	} else if sev, ok := ParseSeverity(strings.ToUpper(*l.Level)); ok {
		rec.Log.Level = sev
	} else {
		c.addf("level", "unknown level %q; want one of DEBUG, INFO, WARN, ERROR, FATAL", truncate(*l.Level, 64))
	}
	rec.Log.Service = c.text("service", l.Service, true, maxNameBytes)
	rec.Log.Message = c.text("message", l.Message, true, 0)
	rec.Log.Details = p.details(&c, "details", l.Details)
	rec.Log.TraceID, rec.Log.SpanID = c.traceValues(l.TraceID, l.SpanID)
	if !c.ok() {
		p.Reject(n, c.message())
		return
	}
	p.batch.App = append(p.batch.App, rec)
}

// details checks an app log's details: a JSON object jsonb can store, nested at most
// MaxDetailsDepth levels; null or nothing is no details.
func (p *BatchParser) details(c *fieldCheck, field string, raw json.RawMessage) json.RawMessage {
	d := bytes.TrimSpace(raw)
	switch depth, nul, badNum := scanJSON(d); {
	case len(d) == 0 || bytes.Equal(d, []byte("null")):
	case d[0] != '{':
		c.addf(field, "must be a JSON object")
	case nul:
		c.addf(field, "contains a NUL character (\\u0000), which cannot be stored")
	case badNum != "":
		c.addf(field, "number %s is beyond the range PostgreSQL can store "+
			"(at most %d digits before the decimal point and %d after)", truncate(badNum, 64), maxNumericIntDigits, maxNumericScale)
	case depth > p.limits.MaxDetailsDepth:
		c.addf(field, "nesting depth %d exceeds the limit of %d", depth, p.limits.MaxDetailsDepth)
	default:
		return json.RawMessage(d)
	}
	return nil
}

// scanJSON walks valid JSON and reports its maximum nesting depth, whether a
// string holds an escaped NUL (\u0000), and the first number outside PostgreSQL's
// numeric range: jsonb refuses both with an error that is the producer's mistake.
func scanJSON(b []byte) (maxDepth int, nul bool, badNumber string) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			j := i
			for j < len(b) && strings.IndexByte("+-0123456789.eE", b[j]) >= 0 {
				j++
			}
			if badNumber == "" && !numericFits(b[i:j]) {
				badNumber = string(b[i:j])
			}
			i = j - 1
		case '{', '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case '}', ']':
			depth--
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
						nul = true
					}
					i++
				}
			}
		}
	}
	return maxDepth, nul, badNumber
}

// PostgreSQL numeric limits (src/backend/utils/adt/numeric.c): a weight of at most
// 32767 base-10000 digits before the decimal point and a display scale of at most
// 16383 digits after it; exponents are refused from INT_MAX/2 on.
const (
	maxNumericIntDigits = 131072
	maxNumericScale     = 16383
	maxNumericExponent  = 1<<30 - 1
)

// numericFits reports whether PostgreSQL's numeric input (which jsonb uses for every
// number) accepts the valid JSON number num, following its set_var_from_str and
// make_result: the scale is the digits after the point minus the exponent, and a
// non-zero value's leading digit must lie within maxNumericIntDigits of the point.
func numericFits(num []byte) bool {
	s := strings.TrimPrefix(string(num), "-")
	mant, exp := s, int64(0)
	if k := strings.IndexAny(s, "eE"); k >= 0 {
		mant = s[:k]
		e := strings.TrimPrefix(s[k+1:], "+")
		v, err := strconv.ParseInt(e, 10, 64)
		if err != nil || v >= maxNumericExponent || v <= -maxNumericExponent {
			return false
		}
		exp = v
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if max(0, int64(len(frac))-exp) > maxNumericScale {
		return false
	}
	digits := intPart + frac
	first := strings.IndexFunc(digits, func(r rune) bool { return r != '0' })
	if first < 0 {
		return true // zero
	}
	// The leading digit's power of ten; a value below 1 has a negative one.
	lead := int64(len(intPart)-1-first) + exp
	return lead < maxNumericIntDigits
}

// LoneSurrogate finds a \uD800-\uDFFF escape in a JSON text that is not part of a
// high-low pair: its byte offset and text. encoding/json would turn it into U+FFFD
// silently; PostgreSQL's jsonb refuses it.
func LoneSurrogate(b []byte) (offset int, escape string, found bool) { return loneSurrogate(b) }

func loneSurrogate(b []byte) (offset int, escape string, found bool) {
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			inString = !inString
		case inString && b[i] == '\\':
			if i+5 < len(b) && b[i+1] == 'u' {
				r, ok := hex4(b[i+2 : i+6])
				switch {
				case ok && r >= 0xD800 && r <= 0xDBFF:
					if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
						if lo, ok := hex4(b[i+8 : i+12]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
							i += 11
							continue
						}
					}
					return i, string(b[i : i+6]), true
				case ok && r >= 0xDC00 && r <= 0xDFFF:
					return i, string(b[i : i+6]), true
				}
			}
			i++ // skip the escaped character
		}
	}
	return 0, "", false
}

func hex4(b []byte) (rune, bool) {
	v, err := strconv.ParseUint(string(b), 16, 32)
	return rune(v), err == nil
}

// APIRequestLogLine is an `api-request` record (seed 003).
type APIRequestLogLine struct {
	ID             *string `json:"id"`
	ReceivedAt     *string `json:"received_at"`
	Code           *int64  `json:"code"`
	GatewayCode    *int64  `json:"gateway_code"`
	StatusDetails  *string `json:"status_details"`
	IP             *string `json:"ip"`
	TimingMs       *int64  `json:"timing_ms"`
	DelayMs        *int64  `json:"delay_ms"`
	Collection     *string `json:"collection"`
	CollectionType *string `json:"collection_type"`
	Endpoint       *string `json:"endpoint"`
	Client         *string `json:"client"`
	JobURL         *string `json:"job_url"`
	TraceID        *string `json:"trace_id"`
	SpanID         *string `json:"span_id"`
}

const maxInt32 = 1<<31 - 1

// MaxActionID is the largest action log id, client-sent or server-made: 2^53-1, the
// largest integer a JavaScript client holds exactly.
const MaxActionID = 1<<53 - 1

// AddAPIRequest validates one gateway request log.
func (p *BatchParser) AddAPIRequest(n int, l APIRequestLogLine) {
	var c fieldCheck
	rec := APIRequestRecord{RecordMeta: RecordMeta{Line: n}}
	rec.Log.ID, rec.IDGiven = c.uuidValue("id", l.ID, false)
	rec.Log.ReceivedAt, rec.TimeGiven = p.timeValue(&c, "received_at", l.ReceivedAt)
	rec.Log.Code = c.intRange("code", l.Code, true, 100, 599)
	if l.GatewayCode != nil {
		g := c.intRange("gateway_code", l.GatewayCode, false, 0, maxInt32)
		rec.Log.GatewayCode = &g
	}
	rec.Log.StatusDetails = c.optText("status_details", l.StatusDetails, 0)
	if ip := c.text("ip", l.IP, true, 0); l.IP != nil {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			c.addf("ip", "%q is not an IPv4 or IPv6 address", truncate(ip, 64))
		}
		rec.Log.IP = addr.Unmap()
	}
	rec.Log.TimingMs = c.intRange("timing_ms", l.TimingMs, true, 0, maxInt32)
	rec.Log.DelayMs = c.intRange("delay_ms", l.DelayMs, true, 0, maxInt32)
	rec.Collection = c.text("collection", l.Collection, true, maxNameBytes)
	if l.CollectionType == nil {
		c.missing("collection_type")
	} else if t := CollectionType(*l.CollectionType); t == CollectionRecipe || t == CollectionProxy {
		rec.CollectionType = t
	} else {
		c.addf("collection_type", "unknown collection type %q; want recipe or proxy", truncate(*l.CollectionType, 64))
	}
	rec.Log.Endpoint = c.text("endpoint", l.Endpoint, true, maxNameBytes)
	rec.Client = c.optText("client", l.Client, maxNameBytes)
	if rec.Client != nil && strings.TrimSpace(*rec.Client) == "" {
		rec.Client = nil // an empty client name means "no client"
	}
	rec.Log.JobURL = c.optText("job_url", l.JobURL, 0)
	rec.Log.TraceID, rec.Log.SpanID = c.traceValues(l.TraceID, l.SpanID)
	if !c.ok() {
		p.Reject(n, c.message())
		return
	}
	p.batch.APIRequest = append(p.batch.APIRequest, rec)
}

// IntegrationLogLine is an `integration` record (seed 001).
type IntegrationLogLine struct {
	ID              *string `json:"id"`
	IntegrationID   *string `json:"integration_id"`
	IntegrationName *string `json:"integration_name"`
	JobID           *string `json:"job_id"`
	Succeeded       *bool   `json:"succeeded"`
	Attempt         *int64  `json:"attempt"`
	Body            *string `json:"body"`
	StatusCode      *int64  `json:"status_code"`
	ErrorDetail     *string `json:"error_detail"`
	CreatedAt       *string `json:"created_at"`
}

// AddIntegration validates one delivery log.
func (p *BatchParser) AddIntegration(n int, l IntegrationLogLine) {
	var c fieldCheck
	rec := IntegrationRecord{RecordMeta: RecordMeta{Line: n}}
	rec.Log.ID, rec.IDGiven = c.uuidValue("id", l.ID, false)
	rec.Log.IntegrationID, _ = c.uuidValue("integration_id", l.IntegrationID, true)
	rec.IntegrationName = c.optText("integration_name", l.IntegrationName, maxNameBytes)
	if job, ok := c.uuidValue("job_id", l.JobID, false); ok {
		rec.Log.JobID = &job
	}
	if l.Succeeded == nil {
		c.missing("succeeded")
	} else {
		rec.Log.Succeeded = *l.Succeeded
	}
	rec.Log.Attempt = c.intRange("attempt", l.Attempt, true, 1, maxInt32)
	rec.Log.Body = c.optText("body", l.Body, 0)
	// 0 records a delivery that got no HTTP response at all (timeout, refused).
	rec.Log.StatusCode = c.intRange("status_code", l.StatusCode, true, 0, 599)
	rec.Log.ErrorDetail = c.optText("error_detail", l.ErrorDetail, 0)
	rec.Log.CreatedAt, rec.TimeGiven = p.timeValue(&c, "created_at", l.CreatedAt)
	if !c.ok() {
		p.Reject(n, c.message())
		return
	}
	p.batch.Integration = append(p.batch.Integration, rec)
}

// ActionLogLine is an `action` record (seed 004).
type ActionLogLine struct {
	ID         *int64  `json:"id"`
	Level      *int64  `json:"level"`
	LoggerName *string `json:"logger_name"`
	Message    *string `json:"message"`
	AppName    *string `json:"app_name"`
	Trace      *string `json:"trace"`
	CreatedAt  *string `json:"created_at"`
}

// AddAction validates one action log.
func (p *BatchParser) AddAction(n int, l ActionLogLine) {
	var c fieldCheck
	rec := ActionRecord{RecordMeta: RecordMeta{Line: n}}
	if l.ID != nil {
		// 2^53-1 is the largest integer JavaScript clients hold exactly; server-made ids
		// stay below it too (db.IngestStore allocates them per workspace).
		rec.Log.ID = int64(c.intRange("id", l.ID, false, 1, MaxActionID))
		rec.IDGiven = true
	}
	rec.Log.Level = c.intRange("level", l.Level, true, 0, 50)
	rec.Log.LoggerName = c.text("logger_name", l.LoggerName, true, maxNameBytes)
	rec.Log.Message = c.text("message", l.Message, true, 0)
	rec.Log.AppName = c.text("app_name", l.AppName, true, maxNameBytes)
	rec.Log.Trace = c.optText("trace", l.Trace, 0)
	rec.Log.CreatedAt, rec.TimeGiven = p.timeValue(&c, "created_at", l.CreatedAt)
	if !c.ok() {
		p.Reject(n, c.message())
		return
	}
	p.batch.Action = append(p.batch.Action, rec)
}

// ImportIssueLine is one error or alert of an import, as sent.
type ImportIssueLine struct {
	Message *string `json:"message"`
	Pointer *string `json:"pointer"`
}

// APIReferenceLogLine is an `api-reference` record (seed 000).
type APIReferenceLogLine struct {
	LogsID           *string           `json:"logs_id"`
	APIReferenceID   *string           `json:"api_reference_id"`
	APIReferenceName *string           `json:"api_reference_name"`
	UserID           *string           `json:"user_id"`
	UserName         *string           `json:"user_name"`
	Title            *string           `json:"title"`
	ModifiedAt       *string           `json:"modified_at"`
	ErrorCount       *int64            `json:"error_count"`
	AlertsCount      *int64            `json:"alerts_count"`
	Errors           []ImportIssueLine `json:"errors"`
	Alerts           []ImportIssueLine `json:"alerts"`
}

// AddAPIReference validates one import log.
func (p *BatchParser) AddAPIReference(n int, l APIReferenceLogLine) {
	var c fieldCheck
	rec := APIReferenceRecord{RecordMeta: RecordMeta{Line: n}}
	if l.LogsID != nil {
		rec.Log.ID = c.text("logs_id", l.LogsID, true, maxNameBytes)
		rec.IDGiven = true
	}
	rec.Log.APIReferenceID = c.text("api_reference_id", l.APIReferenceID, true, maxNameBytes)
	rec.APIReferenceName = c.optText("api_reference_name", l.APIReferenceName, maxNameBytes)
	rec.Log.UserID = c.text("user_id", l.UserID, true, maxNameBytes)
	rec.UserName = c.text("user_name", l.UserName, true, maxNameBytes)
	rec.Log.Title = c.text("title", l.Title, true, 0)
	rec.Log.ModifiedAt, rec.TimeGiven = p.timeValue(&c, "modified_at", l.ModifiedAt)
	rec.Log.ErrorCount = c.intRange("error_count", l.ErrorCount, true, 0, maxInt32)
	rec.Log.AlertsCount = c.intRange("alerts_count", l.AlertsCount, true, 0, maxInt32)
	rec.Log.Errors = c.issues("errors", l.Errors)
	rec.Log.Alerts = c.issues("alerts", l.Alerts)
	if !c.ok() {
		p.Reject(n, c.message())
		return
	}
	p.batch.APIReference = append(p.batch.APIReference, rec)
}

func (c *fieldCheck) issues(field string, in []ImportIssueLine) []ImportIssue {
	out := make([]ImportIssue, 0, len(in))
	for i, it := range in {
		name := field + "[" + strconv.Itoa(i) + "]"
		var is ImportIssue
		is.Message = c.text(name+".message", it.Message, true, 0)
		if it.Pointer != nil {
			is.Pointer = c.text(name+".pointer", it.Pointer, false, 0)
		}
		out = append(out, is)
	}
	return out
}
