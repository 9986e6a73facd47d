package model

import (
	"github.com/99designs/gqlgen/graphql"

	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxFilterTextBytes bounds each string a caller sends to read with (a filter
// value, an id, a name): longer than any id, name, endpoint or search worth
// matching, short enough that no comparison with it is costly.
const MaxFilterTextBytes = 4096

// CheckText refuses a string PostgreSQL cannot take as a text value (a NUL
// character, invalid UTF-8) or longer than MaxFilterTextBytes, naming the field:
// every surface answers the error with its 400 rather than letting the statement
// fail.
func CheckText(field, s string) error {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return InputErrorf("%s: contains a NUL character (\\u0000), which is not allowed", field)
	case !utf8.ValidString(s):
		return InputErrorf("%s: is not valid UTF-8", field)
	case len(s) > MaxFilterTextBytes:
		return InputErrorf("%s: is longer than %d bytes", field, MaxFilterTextBytes)
	}
	return nil
}

func checkTextPtr(field string, s *string) error {
	if s == nil {
		return nil
	}
	return CheckText(field, *s)
}

func checkTexts(field string, ss []string) error {
	for i, s := range ss {
		if err := CheckText(fmt.Sprintf("%s[%d]", field, i), s); err != nil {
			return err
		}
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkJSON walks a JSON value's keys and strings (jsonb refuses \u0000 too).
func checkJSON(field string, v any) error {
	switch x := v.(type) {
	case string:
		return CheckText(field, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the first bad key, whatever the map's order
		for _, k := range keys {
			if err := CheckText(field+" key", k); err != nil {
				return err
			}
			if err := checkJSON(field+"."+k, x[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkJSON(fmt.Sprintf("%s[%d]", field, i), e); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate checks every string of the filter (see CheckText).
func (f *LogFilter) Validate() error {
	if f == nil {
		return nil
	}
	_, traceErr := ParseTraceIDs("traceIds", f.TraceIDs)
	return firstError(checkTexts("sources", f.Sources), checkTextPtr("search", f.Search), traceErr)
}

// Validate checks every string of the filter (see CheckText), details included.
func (f *AppLogFilter) Validate() error {
	if f == nil {
		return nil
	}
	return firstError(checkTexts("services", f.Services), checkTextPtr("search", f.Search), checkJSON("details", f.Details))
}

// Validate checks every string of the filter (see CheckText).
func (f *APIRequestLogFilter) Validate() error {
	if f == nil {
		return nil
	}
	return firstError(checkTexts("codeClasses", f.CodeClasses), checkTexts("clients", f.Clients),
		checkTexts("collections", f.Collections), checkTexts("endpoints", f.Endpoints), checkTexts("ips", f.IPs),
		checkTextPtr("search", f.Search))
}

// Validate checks every string of the filter (see CheckText).
func (f *IntegrationLogFilter) Validate() error {
	if f == nil {
		return nil
	}
	return firstError(checkTexts("integrationIds", f.IntegrationIDs), checkTexts("jobIds", f.JobIDs), checkTextPtr("search", f.Search))
}

// Validate checks every string of the filter (see CheckText).
func (f *ActionLogFilter) Validate() error {
	if f == nil {
		return nil
	}
	return firstError(checkTexts("appNames", f.AppNames), checkTexts("loggerNames", f.LoggerNames), checkTextPtr("search", f.Search))
}

// Validate checks every string of the filter (see CheckText).
func (f *APIReferenceLogFilter) Validate() error {
	if f == nil {
		return nil
	}
	return firstError(checkTexts("apiReferenceIds", f.APIReferenceIDs), checkTexts("userIds", f.UserIDs), checkTextPtr("search", f.Search))
}

// ValidateFilter validates any of the filter structs (nil and unknown types pass:
// the code that turns them into SQL refuses unknown types).
func ValidateFilter(filter any) error {
	if v, ok := filter.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// Bounds of a cursor's time: a stored log's time is within them, so a cursor
// outside them was not made by the server.
var (
	minCursorTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCursorTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// MarshalJSONObject prints a JSON object input back (gqlgen needs both directions).
func MarshalJSONObject(m map[string]any) graphql.Marshaler { return graphql.MarshalMap(m) }

// UnmarshalJSONObject reads a JSON scalar that must be an object: the only one read
// into a map is a filter's details (jsonb containment), and anything else there is
// the caller's mistake (gqlgen's Map answers it with an internal error).
func UnmarshalJSONObject(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, InputErrorf("details: must be a JSON object (e.g. {\"user_id\": 12345}), not %s", jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return "a number"
}
