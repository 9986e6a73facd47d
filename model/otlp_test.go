package model_test

import (
	"math"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/loggraph/loggraph/model"
)

func anyStr(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

// TestOTLPValuesAsJSON: every attribute value type as details JSON, and the levels
// of severity numbers and texts.
func TestOTLPValuesAsJSON(t *testing.T) {
	attr := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	rec := &logspb.LogRecord{SeverityText: "notice", Body: anyStr("m"), Attributes: []*commonpb.KeyValue{
		attr("s", anyStr("a\"b\\c\n\x01é")),
		attr("b", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}),
		attr("i", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -9007199254740993}}),
		attr("d", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.1}}),
		attr("nan", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.NaN()}}),
		attr("inf", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.Inf(-1)}}),
		attr("bytes", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}}),
		attr("none", &commonpb.AnyValue{}),
		attr("list", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
			Values: []*commonpb.AnyValue{anyStr("x"), {Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{}}}}}}}),
		attr("kv", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
			Values: []*commonpb.KeyValue{attr("k", anyStr("v"))}}}}),
	}}
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{rec}}}}}}
	b, be := model.OTLPLogs(req, model.OTLPProtobuf, time.Now(), model.IngestLimits{})
	if be != nil || len(b.App) != 1 {
		t.Fatalf("%v %+v", be, b)
	}
	got := b.App[0].Log
	want := `{"s":"a\"b\\c\n\u0001é","b":true,"i":-9007199254740993,"d":0.1,"nan":"NaN","inf":"-Infinity","bytes":"AAEC","none":null,"list":["x",{}],"kv":{"k":"v"}}`
	if string(got.Details) != want || got.Service != model.OTLPUnknownService || got.Level != model.SeverityInfo {
		t.Fatalf("details %s service %q level %v", got.Details, got.Service, got.Level)
	}
	for _, c := range []struct {
		number logspb.SeverityNumber
		text   string
		want   model.Severity
	}{
		{1, "", model.SeverityDebug}, {8, "", model.SeverityDebug}, {9, "", model.SeverityInfo}, {13, "", model.SeverityWarn},
		{20, "", model.SeverityError}, {24, "whatever", model.SeverityFatal}, {0, "Warning", model.SeverityWarn},
		{0, "err", model.SeverityError}, {0, "CRITICAL", model.SeverityFatal}, {0, "trace3", model.SeverityDebug}, {0, "", model.SeverityInfo},
	} {
		t.Run(c.text+c.number.String(), func(t *testing.T) {
			rec := &logspb.LogRecord{SeverityNumber: c.number, SeverityText: c.text}
			req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{rec}}}}}}
			b, be := model.OTLPLogs(req, model.OTLPProtobuf, time.Now(), model.IngestLimits{})
			if be != nil || b.App[0].Log.Level != c.want || b.App[0].Log.Details != nil {
				t.Fatalf("%v: level %v details %s", be, b.App[0].Log.Level, b.App[0].Log.Details)
			}
		})
	}
}
