package rest

import (
	"net/http"
	"time"
)

// DefaultBodyReadTimeout bounds how long a request's body may take to arrive: a
// client trickling a body a byte at a time otherwise holds its connection and
// handler forever. 60 s carries the largest ingest body (64 MiB) at about 1.1 MB/s.
const DefaultBodyReadTimeout = 60 * time.Second

// bodyReadDeadline sets a read deadline of timeout from the request's start on
// connections carrying a request body. A body not read in time fails its handler's
// read (the handler answers, and net/http closes the connection, since the body was
// not consumed). Requests without a body are left alone: net/http is then already
// reading the connection in the background to notice a client leaving, and a
// deadline there would cancel the request. Websocket upgrades are left alone too: a
// hijacked connection keeps its read deadline, and a websocket lives for hours.
// net/http resets the deadline when it reads the connection's next request, and when
// the body has been read to its end.
func bodyReadDeadline(timeout time.Duration, next http.Handler) http.Handler {
	if timeout == 0 {
		timeout = DefaultBodyReadTimeout
	}
	if timeout < 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 && r.Header.Get("Upgrade") == "" {
			// An error means the writer cannot set deadlines (a test recorder): no bound.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		next.ServeHTTP(w, r)
	})
}
