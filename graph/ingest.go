package graph

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// MaxMutationLogs bounds the logs of one ingest mutation; bigger batches go through
// POST /v1/ingest/{kind}.
const MaxMutationLogs = 1000

// ingest validates inputs with the same rules as the HTTP ingest route and stores
// them as one all-or-nothing batch.
func (r *Resolver) ingest(ctx context.Context, kind model.LogKind, n int, add func(p *model.BatchParser)) (*model.IngestResult, error) {
	p, err := need(ctx, model.Role.CanIngest, "ingest logs")
	if err != nil {
		return nil, err
	}
	if n > MaxMutationLogs {
		return nil, userError(CodeBadUserInput, "%d logs sent; a mutation takes at most %d (use POST /v1/ingest/%s for bigger batches)",
			n, MaxMutationLogs, kind.Route())
	}
	parser := model.NewBatchParser(kind, time.Now(), r.IngestLimits)
	add(parser)
	batch, err := parser.Finish()
	if err == nil {
		// The workspace's ingest rows and bytes per second, before anything is stored;
		// the *guard.Refusal is the field's error (RATE_LIMITED).
		if ref := r.Limiter.ChargeIngest(p.Workspace, int64(batch.Len()), argumentBytes(ctx)); ref != nil {
			return nil, ref
		}
		var res db.IngestResult
		res, err = r.Ingest.Ingest(ctx, p.Workspace.ID, batch)
		if err == nil {
			if r.OnIngest != nil {
				r.OnIngest(kind, res)
			}
			return &model.IngestResult{Accepted: res.Accepted, Duplicates: res.Duplicates}, nil
		}
	}
	var be *model.BatchError
	if errors.As(err, &be) {
		return nil, batchError(be)
	}
	return nil, err
}

// argumentBytes is the size of the field's arguments as JSON: the mutation's share
// of the ingest bytes per second (the request body is read before any resolver runs,
// and one operation may hold several ingest fields).
func argumentBytes(ctx context.Context) int64 {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return 0
	}
	b, err := json.Marshal(fc.Args)
	if err != nil {
		return 0
	}
	return int64(len(b))
}

func timeText(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format(time.RFC3339Nano)
	return &s
}

func int64Ptr(v *int) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

func intVal(v int) *int64 { n := int64(v); return &n }

func jsonRaw(m map[string]any) json.RawMessage {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(`"unencodable"`) // the validator then says "must be a JSON object"
	}
	return b
}

func appLine(in model.AppLogInput) model.AppLogLine {
	level := in.Level.String()
	return model.AppLogLine{ID: in.ID, Timestamp: timeText(in.Timestamp), Level: &level,
		Service: &in.Service, Message: &in.Message, Details: jsonRaw(in.Details), TraceID: in.TraceID, SpanID: in.SpanID}
}

func apiRequestLine(in model.APIRequestLogInput) model.APIRequestLogLine {
	ct := string(in.CollectionType)
	return model.APIRequestLogLine{ID: in.ID, ReceivedAt: timeText(in.ReceivedAt), Code: intVal(in.Code),
		GatewayCode: int64Ptr(in.GatewayCode), StatusDetails: in.StatusDetails, IP: &in.IP,
		TimingMs: intVal(in.TimingMs), DelayMs: intVal(in.DelayMs), Collection: &in.Collection,
		CollectionType: &ct, Endpoint: &in.Endpoint, Client: in.Client, JobURL: in.JobURL, TraceID: in.TraceID, SpanID: in.SpanID}
}

func integrationLine(in model.IntegrationLogInput) model.IntegrationLogLine {
	return model.IntegrationLogLine{ID: in.ID, IntegrationID: &in.IntegrationID, IntegrationName: in.IntegrationName,
		JobID: in.JobID, Succeeded: &in.Succeeded, Attempt: intVal(in.Attempt), Body: in.Body,
		StatusCode: intVal(in.StatusCode), ErrorDetail: in.ErrorDetail, CreatedAt: timeText(in.CreatedAt)}
}

// actionLine converts an action input; a non-integer id is reported like the HTTP
// route reports one.
func actionLine(in model.ActionLogInput) (model.ActionLogLine, string) {
	l := model.ActionLogLine{Level: intVal(in.Level), LoggerName: &in.LoggerName, Message: &in.Message,
		AppName: &in.AppName, Trace: in.Trace, CreatedAt: timeText(in.CreatedAt)}
	if in.ID != nil {
		id, err := strconv.ParseInt(*in.ID, 10, 64)
		if err != nil {
			return l, `field "id": ` + strconv.Quote(*in.ID) + " is not an integer"
		}
		l.ID = &id
	}
	return l, ""
}

func issueLines(in []model.ImportIssueInput) []model.ImportIssueLine {
	out := make([]model.ImportIssueLine, len(in))
	for i := range in {
		out[i] = model.ImportIssueLine{Message: &in[i].Message, Pointer: in[i].Pointer}
	}
	return out
}

func apiReferenceLine(in model.APIReferenceLogInput) model.APIReferenceLogLine {
	return model.APIReferenceLogLine{LogsID: in.LogsID, APIReferenceID: &in.APIReferenceID,
		APIReferenceName: in.APIReferenceName, UserID: &in.UserID, UserName: &in.UserName, Title: &in.Title,
		ModifiedAt: timeText(in.ModifiedAt), ErrorCount: intVal(in.ErrorCount), AlertsCount: intVal(in.AlertsCount),
		Errors: issueLines(in.Errors), Alerts: issueLines(in.Alerts)}
}
