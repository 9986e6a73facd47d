package rest

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/loggraph/loggraph/internal/guard"
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
	limit := d.Limits.MaxIngestBodyBytes
	if r.ContentLength > limit {
		writeV1Error(w, r, http.StatusRequestEntityTooLarge, "body_too_large", bodyTooLarge(limit))
		return
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	gzipped := enc == "gzip" || enc == "x-gzip"
	if !gzipped && enc != "" && enc != "identity" {
		writeV1Error(w, r, http.StatusUnsupportedMediaType, "unsupported_encoding",
			fmt.Sprintf("unsupported Content-Encoding %q; send gzip or no encoding", enc))
		return
	}
	// The workspace's ingest quotas, before a byte of the body is read: its memory
	// for the batch and, if its row or byte bucket is already empty, a refusal
	// without reading. The reservation starts from Content-Length (unknown when
	// chunked; a lower bound when gzipped) and grows as the inflated body is read.
	reservation, ref := d.Limiter.AdmitIngest(p.Workspace, r.ContentLength)
	if ref != nil {
		writeV1Refusal(w, r, ref)
		return
	}
	defer reservation.Release() // the decoded batch lives until the COPY is done
	var body io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if gzipped {
		zr, err := gzip.NewReader(body)
		if err != nil {
			h.readError(w, r, err)
			return
		}
		defer zr.Close()
		body = &limitedReader{r: zr, left: limit} // a small gzip body may inflate past the limit
	}
	batch, err := model.DecodeBatch(kind, reservation.Reader(body), time.Now(), d.Limits.Ingest)
	if err != nil {
		h.readError(w, r, err)
		return
	}
	// Rows and bytes per second, after decoding (the row count is known) and before
	// anything is stored.
	if ref := d.Limiter.ChargeIngest(p.Workspace, int64(batch.Len()), reservation.BodyBytes()); ref != nil {
		writeV1Refusal(w, r, ref)
		return
	}
	res, err := d.Ingest.Ingest(r.Context(), p.Workspace.ID, batch)
	var be *model.BatchError
	switch {
	case errors.As(err, &be):
		h.rejected(w, r, kind, be)
		return
	case err != nil:
		d.Metrics.ingestBatches.WithLabelValues(kind.Route(), "failed").Inc()
		if r.Context().Err() != nil {
			return // the client went away: the transaction was rolled back, nobody to answer
		}
		if ref := d.refusal(r.Context(), "ingest", err); ref != nil {
			writeV1Refusal(w, r, ref)
			return
		}
		d.Log.ErrorContext(r.Context(), "ingest failed", "err", err, "kind", kind.Route())
		writeV1Error(w, r, http.StatusInternalServerError, "internal", "internal error; nothing was stored")
		return
	}
	d.Metrics.Ingested(kind, res)
	writeJSON(w, http.StatusOK, res)
}

func (h *ingestHandler) rejected(w http.ResponseWriter, r *http.Request, kind model.LogKind, be *model.BatchError) {
	h.deps.Metrics.ingestBatches.WithLabelValues(kind.Route(), "rejected").Inc()
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
	var mbe *http.MaxBytesError
	var be *model.BatchError
	switch {
	case guard.As(err) != nil: // the body outgrew the workspace's ingest memory while being read
		writeV1Refusal(w, r, guard.As(err))
	case errors.As(err, &be):
		kind, _ := model.KindFromRoute(r.PathValue("kind"))
		h.rejected(w, r, kind, be)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The body did not arrive within the body read timeout (bodyReadDeadline).
		writeV1Error(w, r, http.StatusRequestTimeout, "body_timeout",
			"the request body did not arrive in time; nothing was stored")
	case errors.As(err, &mbe), errors.Is(err, model.ErrBodyTooLarge):
		writeV1Error(w, r, http.StatusRequestEntityTooLarge, "body_too_large", bodyTooLarge(h.deps.Limits.MaxIngestBodyBytes))
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, io.ErrUnexpectedEOF):
		writeV1Error(w, r, http.StatusBadRequest, "invalid_gzip", "the body is not valid gzip: "+err.Error())
	default:
		writeV1Error(w, r, http.StatusBadRequest, "unreadable_body", "could not read the request body: "+err.Error())
	}
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
