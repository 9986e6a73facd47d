package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/graph/loader"
	"github.com/loggraph/loggraph/model"
)

// Batching by lookahead. gqlgen resolves the items of a list concurrently, and a
// dataloader that waits a few milliseconds for them splits its batch when the machine
// is busy. So when a list is fetched, plan walks the selection set of its items:
//   - belongs-to relations (collection, client, integration, job, API reference,
//     user) are loaded at once for every item, one statement per relation type, into
//     the operation's caches, before the items' resolvers ask for them;
//   - each nested connection is told which parents will ask for it, so that the first
//     to ask loads the pages of all of them in one statement and nobody waits.
// The result is one statement per nesting level and relation type, whatever the load.

// fieldPath is the response path of the field being resolved, without list indexes:
// the key that plan and the child resolvers agree on. It walks the field contexts as
// graphql.FieldContext.Path does, without building that path (every nested
// connection of every parent asks, so it is on the hot path of nested queries).
func fieldPath(ctx context.Context) string {
	var buf [16]string
	names := buf[:0]
	size := 0
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Index == nil && fc.Field.Field != nil {
			names = append(names, fc.Field.Alias)
			size += len(fc.Field.Alias) + 1
		}
	}
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(size - 1)
	for i := len(names) - 1; i >= 0; i-- {
		b.WriteString(names[i])
		if i > 0 {
			b.WriteByte('/')
		}
	}
	return b.String()
}

// planConnection plans the items of a connection field just fetched in ctx: the
// rows the page shows.
func planConnection[T any](ctx context.Context, rows []T) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || len(rows) == 0 {
		return
	}
	planItems(ctx, fc.Field.Selections, fieldPath(ctx), toObjects(rows))
}

func toObjects[T any](rows []T) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}

// planItems plans the objects a connection selection (nodes, edges.node) will show.
func planItems(ctx context.Context, connSel ast.SelectionSet, path string, objs []any) {
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(oc, connSel, nil) {
		switch f.Name {
		case "nodes":
			planObjects(ctx, f.Selections, path+"/"+f.Alias, objs)
		case "edges":
			for _, n := range graphql.CollectFields(oc, f.Selections, nil) {
				if n.Name == "node" {
					planObjects(ctx, n.Selections, path+"/"+f.Alias+"/"+n.Alias, objs)
				}
			}
		}
	}
}

// typeNames are the GraphQL type and interfaces of a model object.
func typeNames(o any) []string {
	if l, ok := o.(model.Log); ok {
		return []string{db.GraphQLType(l.Kind()), "Log"}
	}
	switch o.(type) {
	case *model.Integration:
		return []string{"Integration"}
	case *model.IntegrationJob:
		return []string{"IntegrationJob"}
	case *model.APICollection:
		return []string{"ApiCollection"}
	case *model.APIClient:
		return []string{"ApiClient"}
	case *model.APIReference:
		return []string{"ApiReference"}
	}
	return nil
}

// childConnections are the fields that are paginated children of each type.
var childConnections = map[string]bool{"jobs": true, "logs": true, "requestLogs": true}

// parentKey is the key an object's child connections load by (the key its resolvers
// pass to the loaders).
func parentKey(o any) any {
	switch x := o.(type) {
	case *model.Integration:
		return x.ID
	case *model.IntegrationJob:
		return x.ID
	case *model.APICollection:
		return x.ID
	case *model.APIClient:
		return x.ID
	case *model.APIReference:
		return x.ID
	}
	return nil
}

// relations gathers one belongs-to loader's keys, per alias of the fields that use
// it: refs keeps one entry per asking object (for counting nested connections),
// the loader gets each key once.
type relations[K comparable] map[string]*relation[K]

type relation[K comparable] struct {
	refs []K
	sel  ast.SelectionSet
}

func (r relations[K]) add(alias string, k K, sel ast.SelectionSet) {
	rel := r[alias]
	if rel == nil {
		rel = &relation[K]{sel: sel}
		r[alias] = rel
	}
	rel.refs = append(rel.refs, k)
}

// planObjects prefetches the belongs-to relations the objects' selection asks for
// and tells nested connections which parents will ask.
func planObjects(ctx context.Context, sel ast.SelectionSet, path string, objs []any) {
	if len(objs) == 0 {
		return
	}
	ld := loader.For(ctx)
	oc := graphql.GetOperationContext(ctx)
	integrations, jobs := relations[uuid.UUID]{}, relations[uuid.UUID]{}
	collections, clients := relations[int64]{}, relations[int64]{}
	references, users := relations[string]{}, relations[string]{}
	announce := map[string][]any{}
	for _, o := range objs {
		for _, f := range graphql.CollectFields(oc, sel, typeNames(o)) {
			name := f.Name // a log's source is the entity of one of its fields, if any
			if l, ok := o.(model.Log); ok && name == "source" && db.SourceField(l.Kind()) != "" {
				name = db.SourceField(l.Kind())
			}
			switch x := o.(type) {
			case *model.APIRequestLog:
				switch name {
				case "collection":
					collections.add(f.Alias, x.CollectionID, f.Selections)
				case "client":
					if x.ClientID != nil {
						clients.add(f.Alias, *x.ClientID, f.Selections)
					}
				}
			case *model.IntegrationLog:
				switch name {
				case "integration":
					integrations.add(f.Alias, x.IntegrationID, f.Selections)
				case "job":
					if x.JobID != nil {
						jobs.add(f.Alias, *x.JobID, f.Selections)
					}
				}
			case *model.APIReferenceLog:
				switch name {
				case "apiReference":
					references.add(f.Alias, x.APIReferenceID, f.Selections)
				case "user":
					users.add(f.Alias, x.UserID, f.Selections)
				}
			case *model.IntegrationJob:
				if f.Name == "integration" {
					integrations.add(f.Alias, x.IntegrationID, f.Selections)
				}
			}
			if childConnections[f.Name] {
				k := parentKey(o)
				child := path + "/" + f.Alias
				announce[child] = append(announce[child], k)
				for _, c := range graphql.CollectFields(oc, f.Selections, nil) {
					if c.Name == "totalCount" {
						announce[child+"/"+c.Alias] = append(announce[child+"/"+c.Alias], k)
					}
				}
			}
		}
	}
	for p, keys := range announce {
		ld.Announce(p, keys...)
	}
	// Jobs first: the integrations their selection asks for join the integration batch.
	prefetch(ctx, ld, ld.Job, jobs, path)
	prefetch(ctx, ld, ld.Integration, integrations, path)
	prefetch(ctx, ld, ld.Collection, collections, path)
	prefetch(ctx, ld, ld.Client, clients, path)
	prefetch(ctx, ld, ld.APIReference, references, path)
	prefetch(ctx, ld, ld.User, users, path)
}

// prefetch loads a relation's keys in one batch, then plans what each alias's
// selection shows of them.
// Keys already in the cache (asked by an earlier level) are not loaded again. A
// failure is left for the resolvers, which then load (and report) on their own.
func prefetch[K comparable, T any](ctx context.Context, ls *loader.Loaders, l *dataloader.Loader[K, *T], rels relations[K], path string) {
	var keys []K
	seen := map[K]bool{}
	for _, r := range rels {
		for _, k := range r.refs {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	byKey, err := loader.Prefetch(ctx, ls, l, keys)
	if err != nil {
		return
	}
	for alias, r := range rels {
		var objs []any
		for _, k := range r.refs {
			if o := byKey[k]; o != nil {
				objs = append(objs, o)
			}
		}
		planObjects(ctx, r.sel, path+"/"+alias, objs)
	}
}
