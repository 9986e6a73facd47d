package rest

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// Seed 004 (Akinon OMS, a Django REST framework service): the action log list and
// detail. The messages are DRF 3.x's own, byte for byte; the behaviour around them
// (page parsing, link building, token header parsing) follows DRF's source so that
// DRF clients see what they would see from Akinon.
const (
	akinonListPath = "/api/v1/oms/logs/action_log"

	// akinonPageSize is the seed's: its example shows count 15, 10 results and ?page=2.
	akinonPageSize = 10
	// akinonMaxPageSize is ours: the seed documents no page size parameter or maximum.
	akinonMaxPageSize = 100
	// akinonPageSizeParam is ours (DRF's conventional name); the seed documents none.
	akinonPageSizeParam = "page_size"
	// akinonPageParam and akinonLastPage are DRF PageNumberPagination's defaults.
	akinonPageParam = "page"
	akinonLastPage  = "last"
	// akinonTokenKeyword is DRF TokenAuthentication's keyword, also sent in WWW-Authenticate.
	akinonTokenKeyword = "Token"
	// akinonAllow is ours: DRF lists GET, HEAD, OPTIONS for a read-only view set, but
	// Akinon's OPTIONS metadata body is undocumented, so we do not serve OPTIONS.
	akinonAllow = "GET, HEAD"

	// DRF's messages (rest_framework/authentication.py, exceptions.py, pagination.py).
	akinonMsgNotProvided   = "Authentication credentials were not provided."
	akinonMsgNoCredentials = "Invalid token header. No credentials provided."
	akinonMsgSpaces        = "Invalid token header. Token string should not contain spaces."
	akinonMsgInvalidChars  = "Invalid token header. Token string should not contain invalid characters."
	akinonMsgInvalidToken  = "Invalid token."
	akinonMsgForbidden     = "You do not have permission to perform this action."
	akinonMsgNotFound      = "Not found."
	akinonMsgInvalidPage   = "Invalid page."
	akinonMsgMethod        = `Method "%s" not allowed.`
	// akinonMsgInternal is DRF's APIException default; Django itself would answer an
	// HTML page, which no JSON client can read.
	akinonMsgInternal = "A server error occurred."
)

// akinonError is DRF's error body.
type akinonError struct {
	Detail string `json:"detail"`
}

// akinonActionLog is one action log in the seed's key order.
type akinonActionLog struct {
	ID         int64   `json:"id"`
	Level      int     `json:"level"`
	LoggerName string  `json:"logger_name"`
	Message    string  `json:"message"`
	AppName    string  `json:"app_name"`
	Trace      *string `json:"trace"`
	CreatedAt  string  `json:"created_at"`
}

// akinonPage is DRF PageNumberPagination's body.
type akinonPage struct {
	Count    int               `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []akinonActionLog `json:"results"`
}

// errAkinonInvalidPage is a page outside 1..last (or not a number).
var errAkinonInvalidPage = errors.New("invalid page")

func registerAkinon(handle func(pattern string, h http.Handler), d Deps) {
	list := &akinonHandler{d: d}
	detail := &akinonHandler{d: d, detail: true}
	// Served with and without the trailing slash: Django would 301 the bare form
	// (APPEND_SLASH); answering it directly spares clients the redirect.
	handle(akinonListPath+"/{$}", list)
	handle(akinonListPath, list)
	handle(akinonListPath+"/{id}/{$}", detail)
	handle(akinonListPath+"/{id}", detail)
}

type akinonHandler struct {
	d      Deps
	detail bool
}

// ServeHTTP follows DRF's dispatch order: authenticate, check permissions, then the
// method, then the lookup or the page.
func (h *akinonHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// DRF sends Allow on every response of the view.
	w.Header().Set("Allow", akinonAllow)
	tok, msg := akinonToken(r.Header.Get("Authorization"))
	if msg != "" {
		akinonUnauthorized(w, msg)
		return
	}
	p, refusal, capacity := ReadPrincipal(h.d, r, tok)
	switch refusal {
	case OverCapacity:
		writeAkinonRefusal(w, capacity)
		return
	case Unauthenticated:
		akinonUnauthorized(w, akinonMsgInvalidToken)
		return
	case Forbidden:
		akinonFail(w, http.StatusForbidden, akinonMsgForbidden)
		return
	case Unavailable:
		akinonFail(w, http.StatusInternalServerError, akinonMsgInternal)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		akinonFail(w, http.StatusMethodNotAllowed, fmt.Sprintf(akinonMsgMethod, r.Method))
		return
	}
	if h.detail {
		h.serveDetail(w, r, p)
		return
	}
	h.serveList(w, r, p)
}

func (h *akinonHandler) serveDetail(w http.ResponseWriter, r *http.Request, p *model.Principal) {
	// Django's IntegerField lookup runs int() on the path value: "+7" and " 7" find 7,
	// anything else is DRF's bare Http404.
	id, err := pythonInt(r.PathValue("id"))
	if err != nil {
		akinonFail(w, http.StatusNotFound, akinonMsgNotFound)
		return
	}
	l, err := db.NewLogStore(h.d.DB.Bun).LogByID(r.Context(), p.Workspace.ID, model.KindAction, strconv.FormatInt(id, 10))
	switch {
	case errors.Is(err, db.ErrNotFound):
		akinonFail(w, http.StatusNotFound, akinonMsgNotFound)
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	a, ok := l.(*model.ActionLog)
	if !ok {
		h.internal(w, r, errors.New("action log lookup returned another kind"))
		return
	}
	writeAkinonJSON(w, http.StatusOK, akinonLog(a))
}

func (h *akinonHandler) serveList(w http.ResponseWriter, r *http.Request, p *model.Principal) {
	q := r.URL.Query()
	size := akinonPageSizeFrom(q)
	pageArg := lastValue(q, akinonPageParam)
	var page int
	// Count and page in one read-only snapshot: the page number is checked against
	// the same count the body reports.
	rows, count, err := db.CountedPage[*model.ActionLog](r.Context(), db.NewLogStore(h.d.DB.Bun), p.Workspace.ID, &model.ActionLogFilter{},
		func(count int) (model.Page, bool, error) {
			var err error
			if page, err = akinonPageNumber(pageArg, count, size); err != nil {
				return model.Page{}, false, err
			}
			// The seed lists by descending id (105, 104, ..., 96), the order of DRF's
			// ('-id',): a log sent late with a higher id comes first.
			return model.Page{Limit: size, Offset: (page - 1) * size, ByID: true}, count > 0, nil
		})
	switch {
	case errors.Is(err, errAkinonInvalidPage):
		akinonFail(w, http.StatusNotFound, akinonMsgInvalidPage)
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	body := akinonPage{Count: count, Results: make([]akinonActionLog, 0, len(rows))}
	for _, a := range rows {
		body.Results = append(body.Results, akinonLog(a))
	}
	if page < akinonNumPages(count, size) {
		next := akinonLink(r, h.d.Limits.TrustedProxies, q, page+1)
		body.Next = &next
	}
	if page > 1 {
		prev := akinonLink(r, h.d.Limits.TrustedProxies, q, page-1)
		body.Previous = &prev
	}
	writeAkinonJSON(w, http.StatusOK, body)
}

func (h *akinonHandler) internal(w http.ResponseWriter, r *http.Request, err error) {
	if msg, isInput := inputMessage(err); isInput {
		akinonFail(w, http.StatusBadRequest, msg)
		return
	}
	if ref := h.d.refusal(r.Context(), "akinon action logs", err); ref != nil {
		writeAkinonRefusal(w, ref)
		return
	}
	h.d.Log.ErrorContext(r.Context(), "akinon action logs", "err", err)
	akinonFail(w, http.StatusInternalServerError, akinonMsgInternal)
}

// akinonLog renders a row as DRF's serializer does.
func akinonLog(a *model.ActionLog) akinonActionLog {
	return akinonActionLog{ID: a.ID, Level: a.Level, LoggerName: a.LoggerName, Message: a.Message,
		AppName: a.AppName, Trace: a.Trace, CreatedAt: pythonISOFormat(a.CreatedAt.UTC())}
}

// pythonISOFormat is DRF's DateTimeField output for a UTC time: Python's isoformat(),
// which prints microseconds only when they are non-zero, with +00:00 replaced by Z.
func pythonISOFormat(t time.Time) string {
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += "." + strconv.Itoa(1000000 + us)[1:]
	}
	return s + "Z"
}

// akinonToken parses the Authorization header as DRF's TokenAuthentication does: the
// raw bytes split on ASCII whitespace, the keyword compared ASCII-case-insensitively,
// the key decoded as UTF-8. msg is the 401 message when the header is refused.
func akinonToken(header string) (tok, msg string) {
	parts := strings.FieldsFunc(header, func(r rune) bool {
		// Python's bytes.split(): only ASCII whitespace separates (a NBSP does not).
		return r < utf8.RuneSelf && (r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f')
	})
	if len(parts) == 0 || !asciiEqualFold(parts[0], akinonTokenKeyword) {
		// No authenticator applies: DRF's permission check then raises NotAuthenticated.
		return "", akinonMsgNotProvided
	}
	switch {
	case len(parts) == 1:
		return "", akinonMsgNoCredentials
	case len(parts) > 2:
		return "", akinonMsgSpaces
	case !utf8.ValidString(parts[1]):
		return "", akinonMsgInvalidChars
	}
	return parts[1], ""
}

// asciiEqualFold is Python's bytes.lower() comparison: unlike strings.EqualFold it
// does not match the Kelvin sign to "k".
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// akinonPageSizeFrom is DRF's get_page_size with _positive_int(strict, cutoff): a
// value that is absent or not a positive integer falls back to the default, a larger
// one is cut.
func akinonPageSizeFrom(q url.Values) int {
	n, err := pythonInt(lastValue(q, akinonPageSizeParam))
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) && n > 0:
		return akinonMaxPageSize // Python has no overflow: a huge size is just cut
	case err != nil, n < 1:
		return akinonPageSize
	case n > akinonMaxPageSize:
		return akinonMaxPageSize
	}
	return int(n)
}

// akinonNumPages is Django's Paginator.num_pages with allow_empty_first_page: an
// empty list still has page 1.
func akinonNumPages(count, size int) int {
	return max(1, (count+size-1)/size)
}

// akinonPageNumber is DRF's page choice: empty means 1, "last" the last page, else
// Django's validate_number (an integer in 1..num_pages).
func akinonPageNumber(arg string, count, size int) (int, error) {
	last := akinonNumPages(count, size)
	switch arg {
	case "":
		arg = "1"
	case akinonLastPage:
		return last, nil
	}
	n, err := pythonInt(arg)
	if err != nil || n < 1 || n > int64(last) {
		return 0, errAkinonInvalidPage
	}
	return int(n), nil
}

// akinonLink is DRF's replace_query_param (or remove_query_param for page 1) on the
// request's absolute URI: every query key re-encoded in sorted order.
// The scheme and host are the connection's, or a trusted proxy's forwarded ones
// (--trusted-proxies; from any other peer they are ignored: any client can send them).
func akinonLink(r *http.Request, trusted []netip.Prefix, q url.Values, page int) string {
	scheme, host := publicOrigin(r, trusted)
	link := url.Values{}
	for k, v := range q {
		link[k] = v
	}
	if page == 1 {
		link.Del(akinonPageParam)
	} else {
		link.Set(akinonPageParam, strconv.Itoa(page))
	}
	s := scheme + "://" + host + r.URL.EscapedPath()
	if enc := link.Encode(); enc != "" {
		s += "?" + enc
	}
	return s
}

// lastValue is Django's QueryDict.get: the last of repeated values.
func lastValue(q url.Values, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// pythonInt parses like Python's int(str): surrounding whitespace, a sign, and
// underscores between digits are allowed. Beyond int64 it returns a *strconv.NumError
// wrapping ErrRange, with n at the sign's limit.
func pythonInt(s string) (int64, error) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 || body == "" || body[0] == '_' || body[len(body)-1] == '_' || strings.Contains(body, "__") {
		return 0, &strconv.NumError{Func: "int", Num: s, Err: strconv.ErrSyntax}
	}
	return strconv.ParseInt(s[:len(s)-len(body)]+strings.ReplaceAll(body, "_", ""), 10, 64)
}

func akinonUnauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", akinonTokenKeyword)
	akinonFail(w, http.StatusUnauthorized, msg)
}

func akinonFail(w http.ResponseWriter, status int, msg string) {
	writeAkinonJSON(w, status, akinonError{Detail: msg})
}

// writeAkinonJSON renders like DRF's JSONRenderer: compact, no HTML escaping
// (ensure_ascii off), no trailing newline.
func writeAkinonJSON(w http.ResponseWriter, status int, v any) {
	body, err := compactJSON(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"detail":"`+akinonMsgInternal+`"}`)
	}
	writeBody(w, status, "application/json", body)
}
