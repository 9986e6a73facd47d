package rest

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/model"
)

// otlpHandler serves POST /v1/logs, the OTLP/HTTP logs export: an
// ExportLogsServiceRequest in protobuf or OTLP/JSON, optionally gzip-compressed,
// mapped onto app logs (model.OTLPLogs). Valid records are stored and invalid ones
// counted in the response's partial success; every failure is a google.rpc.Status in
// the request's encoding, with the status codes OTLP exporters retry on (429, 503
// with Retry-After) kept for failures that a retry can cure.
type otlpHandler struct{ deps Deps }

// StoreRetryAfter is the Retry-After of an unexpected store failure on the shippers'
// protocols (OTLP, Loki): it is answered 503, which their clients retry, rather than
// 500, which OTLP exporters drop.
const StoreRetryAfter = 5 * time.Second

// shownRejections bounds the rejected records an OTLP or Loki answer describes (all
// are counted).
const shownRejections = 10

const otlpProtobufType = "application/x-protobuf"

// otlpEncoding reads the request's Content-Type.
func otlpEncoding(contentType string) (model.OTLPEncoding, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil:
		return model.OTLPProtobuf, false
	case mt == otlpProtobufType || mt == "application/protobuf":
		return model.OTLPProtobuf, true
	case mt == "application/json":
		return model.OTLPJSON, true
	}
	return model.OTLPProtobuf, false
}

func (h *otlpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := h.deps
	enc, known := otlpEncoding(r.Header.Get("Content-Type"))
	p, f := d.authenticate(r, model.Role.CanIngest, "ingest logs")
	if f != nil {
		writeOTLPFailure(w, enc, f)
		return
	}
	if !known {
		writeOTLPStatus(w, enc, http.StatusUnsupportedMediaType,
			"send application/x-protobuf (an ExportLogsServiceRequest) or application/json (OTLP/JSON)")
		return
	}
	data, body, f := d.readShipperBody(w, r, p.Workspace)
	if f != nil {
		writeOTLPFailure(w, enc, f)
		return
	}
	defer body.Close()
	req, err := model.DecodeOTLPLogs(data, enc)
	if err != nil {
		writeOTLPStatus(w, enc, http.StatusBadRequest, err.Error())
		return
	}
	batch, rejected := model.OTLPLogs(req, enc, time.Now(), d.Limits.Ingest)
	var res db.IngestResult
	nRejected := 0
	if rejected != nil {
		nRejected = rejected.Total
	}
	defer func() { d.Metrics.protocolIngested("otlp", res, nRejected) }()
	if batch == nil || (batch.Len() == 0 && rejected != nil) {
		writeOTLPStatus(w, enc, http.StatusBadRequest, rejectionText(rejected, rejected.Total, "log records"))
		return
	}
	res, f = d.storeShipperBatch(r, p.Workspace, batch, body.BodyBytes())
	if f != nil {
		writeOTLPFailure(w, enc, f)
		return
	}
	resp := &collogspb.ExportLogsServiceResponse{}
	if rejected != nil {
		resp.PartialSuccess = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: int64(rejected.Total),
			ErrorMessage: rejectionText(rejected, batch.Len()+rejected.Total, "log records")}
	}
	writeOTLP(w, enc, http.StatusOK, resp)
}

// readShipperBody reads a shipper protocol's whole body (size limit, gzip, the
// workspace's ingest memory: openIngestBody). Close the body when its batch is
// stored.
func (d Deps) readShipperBody(w http.ResponseWriter, r *http.Request, ws model.Workspace) ([]byte, *ingestBody, *failure) {
	body, f := d.openIngestBody(w, r, ws)
	if f != nil {
		return nil, nil, f
	}
	data, err := io.ReadAll(body.Reader())
	if err != nil {
		body.Close()
		return nil, nil, d.bodyFailure(err)
	}
	return data, body, nil
}

// storeShipperBatch stores a shipper protocol's batch (storeBatch). Its failures are
// all retryable: a batch the store refuses as a whole (it cannot, for app logs) is
// a 400; an unexpected store failure a 503 with StoreRetryAfter.
func (d Deps) storeShipperBatch(r *http.Request, ws model.Workspace, batch *model.Batch, bodyBytes int64) (db.IngestResult, *failure) {
	res, be, f := d.storeBatch(r, ws, batch, bodyBytes)
	switch {
	case be != nil:
		return res, &failure{status: http.StatusBadRequest, message: rejectionText(be, batch.Len(), "record")}
	case f != nil && f.refusal == nil && f.status == http.StatusInternalServerError:
		return res, refusedBy(&guard.Refusal{Status: http.StatusServiceUnavailable, Limit: guard.LimitDatabaseUnavailable,
			Message: "the logs could not be stored; nothing was stored: retry", RetryAfter: StoreRetryAfter})
	}
	return res, f
}

// rejectionText describes the first rejected records of total (what: their plural).
func rejectionText(be *model.BatchError, total int, what string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d %s rejected", be.Total, total, what)
	for i, l := range be.Lines {
		if i == shownRejections {
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + l.Message)
	}
	if more := be.Total - min(len(be.Lines), shownRejections); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}

// writeOTLP writes a message in the request's encoding.
func writeOTLP(w http.ResponseWriter, enc model.OTLPEncoding, status int, m proto.Message) {
	var body []byte
	var err error
	contentType := otlpProtobufType
	if enc == model.OTLPJSON {
		contentType = "application/json"
		body, err = protojson.Marshal(m)
	} else {
		body, err = proto.Marshal(m)
	}
	if err != nil { // a response message always encodes
		status, body = http.StatusInternalServerError, nil
	}
	writeBody(w, status, contentType, body)
}

// writeOTLPStatus answers a failure as OTLP/HTTP says: a google.rpc.Status with the
// message, in the request's encoding.
func writeOTLPStatus(w http.ResponseWriter, enc model.OTLPEncoding, status int, msg string) {
	writeOTLP(w, enc, status, &statuspb.Status{Code: grpcCode(status), Message: msg})
}

// writeOTLPFailure answers a failure (a refusal with its Retry-After).
func writeOTLPFailure(w http.ResponseWriter, enc model.OTLPEncoding, f *failure) {
	f.setHeaders(w.Header())
	writeOTLPStatus(w, enc, f.status, f.message)
}

// grpcCode is the google.rpc.Code of an HTTP status (as gRPC-HTTP mappings pair them).
func grpcCode(status int) int32 {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusRequestTimeout:
		return 4 // DEADLINE_EXCEEDED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	}
	return 13 // INTERNAL
}

// otlpMethodNotAllowed answers other methods on /v1/logs.
func otlpMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	enc, _ := otlpEncoding(r.Header.Get("Content-Type"))
	w.Header().Set("Allow", http.MethodPost)
	writeOTLPStatus(w, enc, http.StatusMethodNotAllowed, "use POST")
}
