package rest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/internal/guard"
	"github.com/loggraph/loggraph/internal/limits"
	"github.com/loggraph/loggraph/internal/reqctx"
	"github.com/loggraph/loggraph/model"
)

// ingestHandler serves POST /v1/ingest/{kind}: NDJSON or a JSON array, optionally
// gzip-compressed, stored all or nothing.
type ingestHandler struct{ deps Deps }

// acceptedTypes are the body media types the ingest route reads; the body's first
// byte tells NDJSON from a JSON array. curl's default form type is accepted because
// `curl --data-binary @logs.ndjson` is how many shippers post.
var acceptedTypes = map[string]bool{
	"": true, "application/x-ndjson": true, "application/ndjson": true, "application/jsonl": true,
	"application/json": true, "text/plain": true, "application/x-www-form-urlencoded": true,
}

func (h *ingestHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := h.deps
	p := authV1(d, w, r, model.Role.CanIngest, "ingest logs")
	if p == nil {
		return
	}
	kind, ok := model.KindFromRoute(r.PathValue("kind"))
	if !ok {
		writeV1Error(w, r, http.StatusNotFound, "unknown_kind",
			fmt.Sprintf("unknown log kind %q; want one of app, api-request, integration, action, api-reference", r.PathValue("kind")))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); (err != nil && r.Header.Get("Content-Type") != "") || !acceptedTypes[mt] {
		writeV1Error(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send application/x-ndjson (one JSON object per line) or application/json (an array of objects)")
		return
	}
	body, f := d.openIngestBody(w, r, p.Workspace)
	if f != nil {
		writeV1Failure(w, r, f)
		return
	}
	defer body.Close() // the decoded batch lives until the COPY is done
	batch, err := model.DecodeBatch(kind, body.Reader(), time.Now(), d.Limits.Ingest)
	if err != nil {
		h.readError(w, r, err)
		return
	}
	res, be, f := d.storeBatch(r, p.Workspace, batch, body.BodyBytes())
	switch {
	case be != nil:
		h.rejected(w, r, be)
	case f != nil && r.Context().Err() != nil:
		// the client went away: the transaction was rolled back, nobody to answer
	case f != nil:
		writeV1Failure(w, r, f)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// failure is a refused request, for each ingest protocol to answer in its own
// envelope: a status with the /v1 code and message, or a capacity refusal (429 or
// 503 with Retry-After).
type failure struct {
	status  int
	code    string
	message string
	refusal *guard.Refusal
}

func refusedBy(ref *guard.Refusal) *failure {
	return &failure{status: ref.Status, code: refusalCode(ref), message: ref.Message, refusal: ref}
}

// setHeaders sets a failure's headers: a refusal's Retry-After, a 401's
// WWW-Authenticate.
func (f *failure) setHeaders(h http.Header) {
	if f.refusal != nil {
		f.refusal.SetHeader(h)
	}
	if f.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="loggraph"`)
	}
}

// writeV1Failure answers a failure in the /v1 envelope.
func writeV1Failure(w http.ResponseWriter, r *http.Request, f *failure) {
	if f.refusal != nil {
		writeV1Refusal(w, r, f.refusal)
		return
	}
	writeV1Error(w, r, f.status, f.code, f.message)
}

// ingestBody is an admitted ingest request body: inflated, within the body limit,
// with the workspace's ingest memory reserved for it until Close.
type ingestBody struct {
	raw         io.Reader
	reservation *limits.Reservation
	zr          *gzip.Reader
}

// Reader reads the inflated body, growing the reservation as it goes (a read fails
// with the *guard.Refusal when the workspace's ingest memory is used up).
func (b *ingestBody) Reader() io.Reader { return b.reservation.Reader(b.raw) }

// BodyBytes is how many inflated bytes were read through Reader.
func (b *ingestBody) BodyBytes() int64 { return b.reservation.BodyBytes() }

// count reads data derived from the body (a decompressed copy) through the
// reservation, which grows to cover it (or fails with the *guard.Refusal).
func (b *ingestBody) count(data []byte) error {
	_, err := io.Copy(io.Discard, b.reservation.Reader(bytes.NewReader(data)))
	return err
}

// Close gives the reservation back.
func (b *ingestBody) Close() {
	if b.zr != nil {
		_ = b.zr.Close()
	}
	b.reservation.Release()
}

// openIngestBody checks the body's length and Content-Encoding (gzip or none) and
// admits it against the workspace's ingest quotas before a byte of it is read: its
// memory for the batch and, if its row or byte bucket is already empty, a refusal
// without reading. The reservation starts from Content-Length (unknown when chunked;
// a lower bound when gzipped) and grows as the inflated body is read.
func (d Deps) openIngestBody(w http.ResponseWriter, r *http.Request, ws model.Workspace) (*ingestBody, *failure) {
	limit := d.Limits.MaxIngestBodyBytes
	if r.ContentLength > limit {
		return nil, &failure{status: http.StatusRequestEntityTooLarge, code: "body_too_large", message: bodyTooLarge(limit)}
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	gzipped := enc == "gzip" || enc == "x-gzip"
	if !gzipped && enc != "" && enc != "identity" {
		return nil, &failure{status: http.StatusUnsupportedMediaType, code: "unsupported_encoding",
			message: fmt.Sprintf("unsupported Content-Encoding %q; send gzip or no encoding", enc)}
	}
	reservation, ref := d.Limiter.AdmitIngest(ws, r.ContentLength)
	if ref != nil {
		return nil, refusedBy(ref)
	}
	b := &ingestBody{raw: http.MaxBytesReader(w, r.Body, limit), reservation: reservation}
	if gzipped {
		zr, err := gzip.NewReader(b.raw)
		if err != nil {
			b.Close()
			return nil, d.bodyFailure(err)
		}
		b.zr = zr
		b.raw = &limitedReader{r: zr, left: limit} // a small gzip body may inflate past the limit
	}
	return b, nil
}

// bodyFailure is the answer to a body that could not be read.
func (d Deps) bodyFailure(err error) *failure {
	var mbe *http.MaxBytesError
	switch {
	case guard.As(err) != nil: // the body outgrew the workspace's ingest memory while being read
		return refusedBy(guard.As(err))
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The body did not arrive within the body read timeout (bodyReadDeadline).
		return &failure{status: http.StatusRequestTimeout, code: "body_timeout",
			message: "the request body did not arrive in time; nothing was stored"}
	case errors.As(err, &mbe), errors.Is(err, model.ErrBodyTooLarge):
		return &failure{status: http.StatusRequestEntityTooLarge, code: "body_too_large", message: bodyTooLarge(d.Limits.MaxIngestBodyBytes)}
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, io.ErrUnexpectedEOF):
		return &failure{status: http.StatusBadRequest, code: "invalid_gzip", message: "the body is not valid gzip: " + err.Error()}
	}
	return &failure{status: http.StatusBadRequest, code: "unreadable_body", message: "could not read the request body: " + err.Error()}
}

// storeBatch charges a decoded batch to the workspace's ingest rate limits (rows and
// bodyBytes) and stores it, counting it in the metrics. A *model.BatchError is a
// batch that contradicts stored data; a failure with status 500 is an unexpected
// store error (logged here). When the client went away (r's context ended), the
// failure is nobody's to read.
func (d Deps) storeBatch(r *http.Request, ws model.Workspace, batch *model.Batch, bodyBytes int64) (db.IngestResult, *model.BatchError, *failure) {
	// Rows and bytes per second, after decoding (the row count is known) and before
	// anything is stored.
	if ref := d.Limiter.ChargeIngest(ws, int64(batch.Len()), bodyBytes); ref != nil {
		return db.IngestResult{}, nil, refusedBy(ref)
	}
	kind := batch.Kind
	res, err := d.Ingest.Ingest(r.Context(), ws.ID, batch)
	var be *model.BatchError
	switch {
	case errors.As(err, &be):
		d.Metrics.ingestBatches.WithLabelValues(kind.Route(), "rejected").Inc()
		return db.IngestResult{}, be, nil
	case errors.Is(err, db.ErrWorkspaceDeleted):
		// The token was revoked with its workspace while this batch was in flight.
		d.Metrics.ingestBatches.WithLabelValues(kind.Route(), "rejected").Inc()
		return db.IngestResult{}, nil, &failure{status: http.StatusUnauthorized, code: "unauthenticated",
			message: "this token's workspace was deleted; nothing was stored"}
	case err != nil:
		d.Metrics.ingestBatches.WithLabelValues(kind.Route(), "failed").Inc()
		if r.Context().Err() == nil {
			if ref := d.refusal(r.Context(), "ingest", err); ref != nil {
				return db.IngestResult{}, nil, refusedBy(ref)
			}
			d.Log.ErrorContext(r.Context(), "ingest failed", "err", err, "kind", kind.Route())
		}
		return db.IngestResult{}, nil, &failure{status: http.StatusInternalServerError, code: "internal",
			message: "internal error; nothing was stored"}
	}
	d.Metrics.Ingested(kind, res)
	return res, nil, nil
}

func (h *ingestHandler) rejected(w http.ResponseWriter, r *http.Request, be *model.BatchError) {
	writeJSON(w, http.StatusBadRequest, v1Error{
		Error:     fmt.Sprintf("%d bad line(s); nothing was stored", be.Total),
		Code:      "invalid_batch",
		RequestID: reqctx.RequestID(r.Context()),
		Errors:    be.Lines,
		BadLines:  be.Total,
	})
}

func bodyTooLarge(limit int64) string {
	return fmt.Sprintf("request body exceeds the limit of %d bytes; split the batch", limit)
}

// readError answers a body that could not be read or decoded.
func (h *ingestHandler) readError(w http.ResponseWriter, r *http.Request, err error) {
	if be, ok := errors.AsType[*model.BatchError](err); ok {
		kind, _ := model.KindFromRoute(r.PathValue("kind"))
		h.deps.Metrics.ingestBatches.WithLabelValues(kind.Route(), "rejected").Inc()
		h.rejected(w, r, be)
		return
	}
	writeV1Failure(w, r, h.deps.bodyFailure(err))
}

// limitedReader fails with model.ErrBodyTooLarge past its limit (unlike
// io.LimitReader, which ends silently and would truncate a batch).
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, model.ErrBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
