package model

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"
)

// Page sizes of every connection.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// PageArgs are a connection's Relay arguments as the caller sent them.
type PageArgs struct {
	First  *int
	After  *string
	Last   *int
	Before *string
}

// Cursor is a keyset position: the sort key of one row (time and id, or name and id
// for entities) and the list it belongs to, so that a cursor of another list is
// refused rather than misread.
type Cursor struct {
	Scope string    `json:"s"`
	Time  time.Time `json:"t,omitzero"`
	Kind  LogKind   `json:"k,omitempty"`
	Name  string    `json:"n,omitempty"`
	ID    string    `json:"i"`
}

// Encode makes the opaque cursor string.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor of the given scope.
func DecodeCursor(arg, s, scope string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c Cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return nil, InputErrorf("%s: not a valid cursor", arg)
	}
	if c.Scope != scope {
		return nil, InputErrorf("%s: the cursor belongs to another list", arg)
	}
	// The server makes cursors from stored rows: a time outside any stored time, or
	// text PostgreSQL cannot compare, was not made by it.
	if !c.Time.IsZero() && (c.Time.Before(minCursorTime) || c.Time.After(maxCursorTime)) ||
		CheckText(arg, c.ID) != nil || CheckText(arg, c.Name) != nil {
		return nil, InputErrorf("%s: not a valid cursor", arg)
	}
	return &c, nil
}

// Page is validated paging: read Limit rows (stores read one more to learn whether
// more exist, and return the page and that) after After and before Before; Backward pages from the end (last/before). Offset
// skips rows first: only the REST shims whose documented APIs page by offset or page
// number use it; GraphQL and exports page by keyset. ByID orders by id before time
// (newest id first), for an offset page of a kind whose ids are the documented order
// (seed 004's action logs, listed by descending id); it takes no cursor.
type Page struct {
	Limit    int
	After    *Cursor
	Before   *Cursor
	Backward bool
	Offset   int
	ByID     bool
}

// ParsePage validates Relay arguments for a list of the given scope.
func ParsePage(a PageArgs, scope string) (Page, error) {
	p := Page{Limit: DefaultPageSize}
	if a.First != nil && a.Last != nil {
		return p, InputErrorf("give first or last, not both")
	}
	for name, n := range map[string]*int{"first": a.First, "last": a.Last} {
		if n == nil {
			continue
		}
		if *n < 0 {
			return p, InputErrorf("%s: %d is negative", name, *n)
		}
		if *n > MaxPageSize {
			return p, InputErrorf("%s: %d is above the maximum page size %d", name, *n, MaxPageSize)
		}
		p.Limit = *n
	}
	p.Backward = a.Last != nil
	var err error
	if a.After != nil {
		if p.After, err = DecodeCursor("after", *a.After, scope); err != nil {
			return p, err
		}
	}
	if a.Before != nil {
		if p.Before, err = DecodeCursor("before", *a.Before, scope); err != nil {
			return p, err
		}
	}
	return p, nil
}

// PageInfo is Relay's page information.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	// first and last encode the page's first and last cursors (nil: an empty page).
	first, last func() string
}

// StartCursor is the cursor of the page's first item; nil for an empty page.
func (p PageInfo) StartCursor() *string { return encoded(p.first) }

// EndCursor is the cursor of the page's last item; nil for an empty page.
func (p PageInfo) EndCursor() *string { return encoded(p.last) }

func encoded(f func() string) *string {
	if f == nil {
		return nil
	}
	s := f()
	return &s
}

// Edge is one item of a connection with its cursor, encoded only when asked for
// (most queries select nodes, and encoding is the costliest part of an edge).
type Edge[T any] struct {
	Node     T
	cursorOf func(T) Cursor
}

// Cursor is the edge's opaque cursor.
func (e Edge[T]) Cursor() string { return e.cursorOf(e.Node).Encode() }

// Connection is one page of a list. TotalCount runs only when a caller asks for it.
type Connection[T any] struct {
	Edges    []Edge[T]
	PageInfo PageInfo
	Count    func(ctx context.Context) (int, error)
}

// Nodes are the page's items.
func (c *Connection[T]) Nodes() []T {
	out := make([]T, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

// TotalCount counts every item the list's filter matches.
func (c *Connection[T]) TotalCount(ctx context.Context) (int, error) {
	if c.Count == nil {
		return len(c.Edges), nil
	}
	return c.Count(ctx)
}

// NewConnection builds a connection from one page of rows read with Page p (in list
// order for forward pages and reversed for backward ones), more telling whether
// more rows follow in that order.
func NewConnection[T any](rows []T, more bool, p Page, cursor func(T) Cursor, count func(context.Context) (int, error)) *Connection[T] {
	if p.Backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	c := &Connection[T]{Edges: make([]Edge[T], len(rows)), Count: count}
	for i, r := range rows {
		c.Edges[i] = Edge[T]{Node: r, cursorOf: cursor}
	}
	if p.Backward {
		c.PageInfo.HasPreviousPage = more
	} else {
		c.PageInfo.HasNextPage = more
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.first, c.PageInfo.last = c.Edges[0].Cursor, c.Edges[n-1].Cursor
	}
	return c
}

// Connection and edge types of each list, named as the schema names them.
type (
	LogConnection             = Connection[Log]
	LogEdge                   = Edge[Log]
	AppLogConnection          = Connection[*AppLog]
	AppLogEdge                = Edge[*AppLog]
	APIRequestLogConnection   = Connection[*APIRequestLog]
	APIRequestLogEdge         = Edge[*APIRequestLog]
	IntegrationLogConnection  = Connection[*IntegrationLog]
	IntegrationLogEdge        = Edge[*IntegrationLog]
	ActionLogConnection       = Connection[*ActionLog]
	ActionLogEdge             = Edge[*ActionLog]
	APIReferenceLogConnection = Connection[*APIReferenceLog]
	APIReferenceLogEdge       = Edge[*APIReferenceLog]
	IntegrationConnection     = Connection[*Integration]
	IntegrationEdge           = Edge[*Integration]
	IntegrationJobConnection  = Connection[*IntegrationJob]
	IntegrationJobEdge        = Edge[*IntegrationJob]
	APIReferenceConnection    = Connection[*APIReference]
	APIReferenceEdge          = Edge[*APIReference]
	APICollectionConnection   = Connection[*APICollection]
	APICollectionEdge         = Edge[*APICollection]
	APIClientConnection       = Connection[*APIClient]
	APIClientEdge             = Edge[*APIClient]
)
