package rest

import (
	"encoding/base64"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang/snappy"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// lokiHandler serves POST /loki/api/v1/push, the Loki push API that Promtail, Grafana
// Alloy, Fluent Bit and Vector speak: a logproto.PushRequest in snappy-compressed
// protobuf (application/x-protobuf, or no type) or JSON (application/json,
// optionally gzip), mapped onto app logs (model.LokiLogs). As Loki does, it answers
// 204 when every entry is stored, and 400 listing the rejected entries when some
// were invalid (the valid ones are stored); errors are text/plain.
type lokiHandler struct{ deps Deps }

func (h *lokiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := h.deps
	basicAsBearer(r)
	p, f := d.authenticate(r, model.Role.CanIngest, "ingest logs")
	if f != nil {
		writeLokiFailure(w, f)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := err == nil && mt == "application/json"
	if !isJSON && r.Header.Get("Content-Type") != "" && (err != nil || mt != otlpProtobufType) {
		writeLokiText(w, http.StatusUnsupportedMediaType,
			"send application/x-protobuf (a snappy-compressed PushRequest) or application/json")
		return
	}
	data, body, f := d.readShipperBody(w, r, p.Workspace)
	if f != nil {
		writeLokiFailure(w, f)
		return
	}
	defer body.Close()
	var streams []model.LokiStream
	if isJSON {
		streams, err = model.DecodeLokiJSON(data)
	} else {
		if data, f = d.unsnappy(data, body); f != nil {
			writeLokiFailure(w, f)
			return
		}
		streams, err = model.DecodeLokiProto(data)
	}
	if err != nil {
		writeLokiText(w, http.StatusBadRequest, err.Error())
		return
	}
	batch, rejected := model.LokiLogs(streams, time.Now(), d.Limits.Ingest)
	var res db.IngestResult
	nRejected := 0
	if rejected != nil {
		nRejected = rejected.Total
	}
	defer func() { d.Metrics.protocolIngested("loki", res, nRejected) }()
	if batch == nil {
		writeLokiText(w, http.StatusBadRequest, rejectionText(rejected, rejected.Total, "entries"))
		return
	}
	if batch.Len() > 0 {
		if res, f = d.storeShipperBatch(r, p.Workspace, batch, body.BodyBytes()); f != nil {
			writeLokiFailure(w, f)
			return
		}
	}
	if rejected != nil {
		writeLokiText(w, http.StatusBadRequest, rejectionText(rejected, batch.Len()+rejected.Total, "entries"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// unsnappy decodes a snappy block (Loki's protobuf framing) within the body limit,
// counting the decoded bytes against the workspace's ingest memory.
func (d Deps) unsnappy(data []byte, body *ingestBody) ([]byte, *failure) {
	n, err := snappy.DecodedLen(data)
	if err != nil {
		return nil, &failure{status: http.StatusBadRequest, message: "the body is not snappy-compressed: " + err.Error()}
	}
	if int64(n) > d.Limits.MaxIngestBodyBytes {
		return nil, &failure{status: http.StatusRequestEntityTooLarge, message: bodyTooLarge(d.Limits.MaxIngestBodyBytes) + " (once decompressed)"}
	}
	out, err := snappy.Decode(nil, data)
	if err != nil {
		return nil, &failure{status: http.StatusBadRequest, message: "the body is not snappy-compressed: " + err.Error()}
	}
	if err := body.count(out); err != nil {
		return nil, d.bodyFailure(err)
	}
	return out, nil
}

// basicAsBearer lets Loki clients configured with basic auth send the token as the
// password (any user name): the request then carries it as a bearer token.
func basicAsBearer(r *http.Request) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return
	}
	if _, password, ok := strings.Cut(string(raw), ":"); ok && password != "" {
		r.Header.Set("Authorization", "Bearer "+password)
	}
}

// writeLokiText answers as Loki does: a text/plain line.
func writeLokiText(w http.ResponseWriter, status int, msg string) {
	writeBody(w, status, "text/plain; charset=utf-8", []byte(msg+"\n"))
}

// writeLokiFailure answers a failure (a refusal with its Retry-After).
func writeLokiFailure(w http.ResponseWriter, f *failure) {
	f.setHeaders(w.Header())
	writeLokiText(w, f.status, f.message)
}

// lokiMethodNotAllowed answers other methods on the push path.
func lokiMethodNotAllowed(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeLokiText(w, http.StatusMethodNotAllowed, "use POST")
}
